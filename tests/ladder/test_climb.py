import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataladder.core.store import RunStore
from dataladder.skills import get_skill
from tests.same import assert_same


def test_pool_is_nested_and_never_touches_eval():
    sk = get_skill("add")
    big = list(sk.records("train", 400, seed=1000, fmt="exam"))
    small = list(sk.records("train", 100, seed=1000, fmt="exam"))
    assert big[:100] == small  # each rung's set contains the previous one
    eval_prompts = {sk.formats["exam"].prompt(it) for it in sk.items("eval", 1000, 0)}
    assert not eval_prompts & {r["prompt"] for r in big}


def test_store_writes_once(tmp_path):
    store = RunStore(tmp_path)
    cfg = {"kind": "x", "n": 1}
    assert store.get(cfg) is None
    store.put(cfg, {"a": 1})
    store.put(cfg, {"a": 2})
    assert store.get(cfg) == {"a": 1}
    assert (store.path(cfg) / "done").exists()


def micro_config(model: Path, **kw):
    from dataladder.ladder.climb import ClimbConfig

    base = dict(models=[str(model)], skills=["add"], target=0.95, start=8, growth=2.0, seeds=1, max_examples=32,
                eval_n=8, eval_skills=["add", "mul"], n_boot=20, min_rungs=3,
                hp={"min_steps": 6, "max_steps": 12, "batch_size": 4, "learning_rate_full": 3e-3})
    base.update(kw)
    return ClimbConfig(**base)


@pytest.mark.integration
def test_climb_trains_evaluates_and_resumes(micro_dir, tmp_path, monkeypatch):
    import dataladder.ladder.climb as climb_mod

    out = tmp_path / "climb"
    doc = climb_mod.climb(micro_config(micro_dir), out)
    arm = doc["arms"][0]
    assert [r["n"] for r in arm["rungs"]] == [8, 16, 32]
    assert arm["stop"]["reason"] in ("budget-exhausted", "unreachable-within-budget", "not-improving")
    for r in arm["rungs"]:
        assert set(r["forgetting"]) == {"add/native", "mul/native", "mul/exam"}
        res = json.loads((out / r["run_dirs"][0] / "result.json").read_text())
        assert res["train"]["tensors_changed"] > 0  # the model's parameters changed
        assert res["train"]["last_loss"] < res["train"]["first_loss"]
        assert len(res["train"]["loss_curve"]) == res["train"]["steps"] and res["soundness"]["sound"] in (True, False)
        samples = [json.loads(x) for x in (out / r["samples"][0]).read_text().splitlines()]
        assert r["samples"] == [d + "/samples.jsonl" for d in r["run_dirs"]]
        assert {(x["skill"], x["format"]) for x in samples} >= {("add", "exam"), ("mul", "native")}
        assert max(sum(1 for x in samples if (x["skill"], x["format"]) == k) for k in {(x["skill"], x["format"]) for x in samples}) <= 5
    assert (out / "ladder.png").stat().st_size > 1000
    # the early forecast: none before the third rung, then the size for the target as the final fit says
    assert [r["forecast"] is None for r in arm["rungs"]] == [True, True, False]
    assert arm["rungs"][2]["forecast"]["n_target"] == arm["fit"]["n_target"]
    saved = json.loads((out / "ladder.json").read_text())
    rec = saved["recommendations"][0]
    assert {"verdict", "n", "arm", "forgetting", "evidence", "predicted_n"} <= set(rec)

    # a rerun trains nothing and gives the same ladder
    calls = []
    monkeypatch.setattr(climb_mod, "train_sft", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(AssertionError))
    again = climb_mod.climb(micro_config(micro_dir), out)
    assert calls == [] and again["arms"][0]["rungs"] == arm["rungs"]


@pytest.mark.integration
def test_lora_arms_train_adapters(micro_dir, tmp_path):
    from dataladder.ladder.climb import climb

    doc = climb(micro_config(micro_dir, method="lora", lora_ranks=[1, 4], max_examples=16, eval_skills=["add"],
                             hp={"min_steps": 4, "max_steps": 4, "batch_size": 4, "learning_rate_lora": 1e-2}), tmp_path)
    assert [a["label"] for a in doc["arms"]] == ["lora r=1", "lora r=4"]
    res = [json.loads((tmp_path / a["rungs"][0]["run_dirs"][0] / "result.json").read_text()) for a in doc["arms"]]
    assert res[0]["train"]["trainable_parameters"] < res[1]["train"]["trainable_parameters"]
    assert all(r["train"]["tensors_changed"] > 0 for r in res)  # merged adapters changed the weights


@pytest.mark.integration
def test_sigkill_mid_rung_then_rerun_matches_uninterrupted(micro_dir, tmp_path):
    args = [sys.executable, "-m", "dataladder.cli.main", "climb", "--model", str(micro_dir), "--skill", "add",
            "--target", "0.95", "--start", "8", "--seeds", "1", "--budget", "32", "--eval-n", "8",
            "--eval-skill", "add",
            "--hp", "min_steps=40", "--hp", "max_steps=40", "--hp", "batch_size=4"]
    env = dict(os.environ)
    full = tmp_path / "full"
    subprocess.run(args + ["--output-dir", str(full)], check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    p = subprocess.Popen(args + ["--output-dir", str(killed)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.glob("runs/*/done"))) < 2:  # base eval + first rung done
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not (killed / "ladder.json").exists()
    subprocess.run(args + ["--output-dir", str(killed)], check=True, env=env, capture_output=True)
    a = json.loads((full / "ladder.json").read_text())["arms"][0]["rungs"]
    b = json.loads((killed / "ladder.json").read_text())["arms"][0]["rungs"]
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("seconds", "train_seconds", "eval_seconds")} for r in rs]  # noqa: E731
    assert_same(strip(a), strip(b))  # two processes: losses to 1e-5, the rest exactly (tests/same.py)


def test_train_file_pool_is_decontaminated_shuffled_and_nested(tmp_path):
    from dataladder.core.errors import InputError
    from dataladder.ladder.climb import ClimbConfig
    from dataladder.ladder.climb_pool import file_pool
    from dataladder.skills.arithmetic import recover_item

    sk = get_skill("add")
    ev = sk.items("eval", 5, 0)
    train = [it for it in (recover_item("add", f"{i}+1=") for i in range(200, 400)) if not sk.is_eval(it)][:60]
    recs = [{"prompt": f"Question: What is {it.key.replace('+', ' plus ')}?\nAnswer:", "completion": f" {it.answer}"}
            for it in train]
    recs += [{"prompt": sk.formats["exam"].prompt(it), "completion": " " + it.answer} for it in ev]  # leaks
    # the eval partition's problems in another wording and operand order: leaks too (the skill's problem hook)
    recs += [{"prompt": f"Compute {b} + {a} =", "completion": f" {it.answer}"}
             for it in sk.items("eval", 40, 7) for a, b in [it.data["operands"]]]
    recs += [{"prompt": "x", "completion": "y", "skill": "mul"}]
    p = tmp_path / "train.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    cfg = ClimbConfig(skills=["add"], eval_n=5, train_file=str(p))
    pool0, pool1 = file_pool(cfg, "add", 0), file_pool(cfg, "add", 1)
    assert len(pool0) == 60 and {r["prompt"] for r in pool0} == {r["prompt"] for r in recs[:60]}
    assert pool0 != pool1 and pool0 == file_pool(cfg, "add", 0)
    p.write_text('{"prompt": "a"}\n')
    with pytest.raises(InputError, match=r"train.jsonl:1: field 'completion'"):
        file_pool(cfg, "add", 0)


def test_arithmetic_is_evaluated_by_default_only_on_the_shipped_model():
    from dataladder.ladder.climb import ClimbConfig

    assert ClimbConfig(skills=["add"]).evaluated() == ["add", "sub", "mul", "div", "mixed"]
    assert ClimbConfig(models=["/models/my-qwen"], skills=["mul"]).evaluated() == ["mul"]
    assert ClimbConfig(models=["/models/my-qwen"], skills=["mul"], eval_skills=["add"]).evaluated() == ["mul", "add"]


def test_train_records_may_name_the_skill_as_the_eval_file_does(tmp_path):
    """`skill` in a train record: the skill's name, its spec, or its file written another way; never another
    skill of the same file."""
    from dataladder.data.trainfile import names_skill

    one = tmp_path / "one.jsonl"
    one.write_text('{"skill": "code", "prompt": "q", "completion": "a"}\n')
    several = tmp_path / "several.jsonl"
    several.write_text('{"skill": "code", "prompt": "q", "completion": "a"}\n{"skill": "json", "prompt": "r", "completion": "b"}\n')
    sk1, sk2 = get_skill(str(one)), get_skill(f"{several}:code")
    assert names_skill("code", str(one), sk1) and names_skill(str(one), str(one), sk1)
    assert names_skill(f"{tmp_path}/./one.jsonl", str(one), sk1)
    assert names_skill(f"{several}:code", f"{several}:code", sk2) and names_skill("code", f"{several}:code", sk2)
    assert not names_skill(f"{several}:json", f"{several}:code", sk2) and not names_skill(str(several), f"{several}:code", sk2)
    assert not names_skill("json", f"{several}:code", sk2)
