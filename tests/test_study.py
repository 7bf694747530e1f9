"""A whole study on a micro model: plan → probe → climb → curated vs noisy → report, then resume."""

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from dataladder.study.plan import Plan


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from dataladder.models.tiny import TinyArch, build_tiny_model
    from dataladder.models.tokenizer import build_char_tokenizer
    from dataladder.study.pool import run_plan

    root = tmp_path_factory.mktemp("study")
    tok = build_char_tokenizer()
    build_tiny_model(TinyArch(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128), tok).save_pretrained(root / "m")
    tok.save_pretrained(root / "m")
    hp = {"min_steps": 4, "max_steps": 4, "batch_size": 4}
    plan = Plan.model_validate({
        "model": str(root / "m"), "output_dir": str(root / "out"),
        "probe": {"skills": ["add", "mul"], "n": 8},
        "climbs": [
            {"name": "full", "skills": ["add"], "start": 4, "max_examples": 16, "seeds": 1, "eval_n": 6,
             "eval_skills": ["add"], "n_boot": 20, "hp": hp},
            {"name": "lora", "skills": ["add"], "method": "lora", "lora_ranks": [2], "start": 4, "max_examples": 8,
             "seeds": 1, "eval_n": 6, "eval_skills": ["add"], "n_boot": 20, "hp": hp},
        ],
        "curated_vs_noisy": {"skill": "add", "start": 4, "curated_max": 8, "noisy_max": 16, "wrong_share": 0.5, "seeds": 1, "eval_n": 6},
        "prefs": {"skill": "add", "start": 8, "max_pairs": 32, "seeds": 1, "heldout_n": 16, "n_boot": 20,
                  "min_rungs": 3, "hp": {"min_steps": 4, "max_steps": 4, "batch_size": 4}},
        "rl": {"skill": "add", "format": "native", "start_steps": 1, "max_rollouts": 4 * 16, "eval_n": 8,
               "check_prompts": 8, "check_samples": 4, "n_boot": 20, "min_rungs": 3,
               "hp": {"prompts_per_step": 4, "num_generations": 4}},
        "compare": {"climb": "full"},
    })
    from dataladder.study.pool import default_parallel

    assert default_parallel(plan)[0] > 1  # steps side by side, each in its own process
    t0 = time.perf_counter()
    report = run_plan(plan)
    first = time.perf_counter() - t0
    return plan, root / "out", report, first


@pytest.mark.integration
def test_study_writes_every_result_and_section(study):
    plan, out, report, _ = study
    assert report == out / "report.html"
    page = report.read_text()
    for anchor in ("recommendations", "profile", "ladders", "lora", "forgetting", "noise", "prefs", "rl", "compare"):
        assert f"id='{anchor}'" in page, anchor
    assert "http://" not in page and "https://" not in page  # self-contained
    assert len(re.findall(r"<img src=\"data:image/png;base64,", page)) >= 8
    compared = json.loads((out / "compare" / "compare.json").read_text())
    assert len(compared["curves"]) == 3  # examples, pairs and rollouts
    assert page.count("<figcaption>") == len(re.findall(r"<img ", page))  # every figure has a caption
    noise = json.loads((out / "noise" / "summary.json").read_text())
    assert noise["injected_wrong"] == 8 and [r["n"] for r in noise["noisy"]] == [4, 8, 16]
    noisy = [json.loads(x) for x in (out / "noise" / "noisy.jsonl").read_text().splitlines()]
    assert sum("noise" in r for r in noisy) == 8


@pytest.mark.integration
def test_study_resumes_without_training(study, monkeypatch):
    import dataladder.ladder.climb as climb_mod
    from dataladder.study.pool import run_plan

    plan, out, _, _ = study
    before = {p: p.read_text() for p in out.rglob("ladder.json")}
    monkeypatch.setattr(climb_mod, "train_sft", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    # the study ran its steps side by side (the default for a small model on CPU); one step at a time in this
    # process (where the patch holds) reads every run they stored and writes the same documents
    run_plan(plan.model_copy(update={"parallel": 1}))
    after = {p: p.read_text() for p in out.rglob("ladder.json")}
    # the time and the peak memory are the writing process's own (a step's worker, then this one), not results
    strip = lambda t: {k: v for k, v in json.loads(t).items() if k not in ("seconds", "peak_memory_bytes")}  # noqa: E731
    assert {p: strip(t) for p, t in before.items()} == {p: strip(t) for p, t in after.items()}


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.integration
def test_report_in_headless_chromium(study, tmp_path):
    if CHROMIUM is None or shutil.which("chromedriver") is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (./setup.sh --test installs them)")
    from selenium import webdriver

    _, out, report, _ = study
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    try:
        driver.get(report.resolve().as_uri())
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        for anchor in ("recommendations", "profile", "ladders", "lora", "forgetting", "noise", "prefs", "rl", "compare"):
            assert driver.find_element("id", anchor).is_displayed()
        broken = driver.execute_script(
            "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0 and driver.execute_script("return document.images.length") >= 5
        shots = Path(__file__).parents[1] / "artifacts"
        shots.mkdir(exist_ok=True)
        driver.save_screenshot(str(shots / "report.png"))
        assert (shots / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()
