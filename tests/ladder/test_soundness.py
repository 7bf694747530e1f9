"""Unstable and collapsed runs (ladder/soundness.py), the retry at a lower learning rate in the climb's worker, the
loss curve a recipe records, and the rung's samples: no training (the recipe and the eval are stand-ins)."""

from __future__ import annotations

import json
import math

import pytest

from dataladder.ladder import soundness as S
from dataladder.train.progress import loss_curve, window_means

FALLING = [2.0, 1.8, 1.5, 1.2, 1.0, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.38]


def test_a_normal_falling_loss_is_sound():
    assert S.loss_instability(FALLING) is None
    assert S.loss_instability([0.01, 0.004, 0.02, 0.003, 0.05, 0.002, 0.03]) is None  # wobbling near zero
    assert S.loss_instability(None, 1.6, 0.2) is None and S.loss_instability([], None, None) is None


def test_nan_and_inf_losses():
    assert S.loss_instability(FALLING[:6] + [math.nan] * 3) == "loss NaN at step 7"
    assert S.loss_instability([1.0, math.inf]) == "loss inf at step 2"
    assert S.loss_instability([1.0, None]) == "loss NaN at step 2"  # a NaN stored as null
    assert S.loss_instability(None, 1.0, math.nan) == "loss NaN (last logged loss)"


def test_a_jump_over_the_running_median_and_a_rise_over_the_run():
    curve = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.41, 0.41, 0.4, 0.41, 0.4, 3.2, 3.0]
    assert S.loss_instability(curve) == "loss jumped 0.42 → 3.2 at step 12"
    assert S.loss_instability([5.0, 4.0, 0.4, 6.0]) is None  # 6 < 3 × the median 4 of the steps before
    assert S.loss_instability([9.0, 0.5, 0.4, 0.4, 1.5]) == "loss jumped 0.45 → 1.5 at step 5"
    assert S.loss_instability(None, 0.4, 0.9) == "loss rose 0.4 → 0.9 over the run"
    assert S.loss_instability(None, 0.01, 0.03) is None  # 3×, but by 0.02 nats: noise near zero


def test_collapse_needs_a_real_drop_to_under_half_while_the_loss_fell():
    why = S.collapse(73, 100, 0, 100, 1.63, 0.22)
    assert why == "collapsed: target accuracy 0.73 → 0.00 while the loss fell 1.63 → 0.22"
    assert S.collapse(73, 100, 0, 100, 0.22, 1.63) is None  # the loss rose: the loss rule's business
    assert S.collapse(73, 100, 40, 100, 1.63, 0.22) is None  # not under half
    assert S.collapse(20, 100, 8, 100, 1.63, 0.22) is None  # under half, but by 0.12 < 0.15
    assert S.collapse(6, 8, 2, 8, 1.63, 0.22) is None  # 0.75 → 0.25 on 8 items: within 3 SE
    assert S.could_collapse(60, 100, 1.6, 0.2) is False  # ≥ 0.5 never collapses: the base is not looked up


def test_run_instability_looks_the_base_up_only_when_it_could_matter():
    calls = []
    base = lambda: calls.append(1) or (73, 100)  # noqa: E731
    stats = {"loss_curve": FALLING, "first_loss": 1.9, "last_loss": 0.4}
    assert S.run_instability(stats, {"correct": 90, "n": 100}, base) is None and calls == []
    assert S.run_instability(stats, {"correct": 0, "n": 100}, base).startswith("collapsed: target accuracy 0.73")
    assert S.run_instability({**stats, "loss_curve": [1.0, math.nan]}, None, base) == "loss NaN at step 2"


def test_unsound_reason_treats_a_result_without_soundness_as_sound():
    assert S.unsound_reason({"train": {}, "eval": {}}) is None
    assert S.unsound_reason({"soundness": None}) is None
    assert S.unsound_reason({"soundness": {"sound": False, "reason": "loss NaN at step 3"}}) == "loss NaN at step 3"


def test_retry_once_at_a_quarter_of_the_learning_rate():
    lrs = []

    def attempt(lr):
        lrs.append(lr)
        return {"lr": lr, "seconds": 10.0}

    sound = S.retry_once(attempt, lambda r: None, 1e-3)
    assert lrs == [1e-3] and sound["soundness"] == {"sound": True, "reason": None, "retried": None}
    lrs.clear()
    fixed = S.retry_once(attempt, lambda r: "loss NaN at step 2" if r["lr"] > 5e-4 else None, 1e-3)
    assert lrs == [1e-3, 2.5e-4] and fixed["lr"] == 2.5e-4 and fixed["seconds"] == 20.0
    assert fixed["soundness"] == {"sound": True, "reason": None, "retried": {
        "learning_rate": 2.5e-4, "first_reason": "loss NaN at step 2", "first_seconds": 10.0}}
    still = S.retry_once(attempt, lambda r: f"bad at {r['lr']:g}", 1e-3)
    assert still["soundness"]["sound"] is False and still["soundness"]["reason"] == "bad at 0.00025"
    assert still["soundness"]["retried"]["first_reason"] == "bad at 0.001"


def test_loss_curve_and_window_means_from_the_log_history():
    hist = [{"loss": 2.0, "grad_norm": 3.0, "step": 1}, {"loss": 1.0, "grad_norm": 2.0, "step": 2},
            {"loss": float("nan"), "grad_norm": float("nan"), "step": 3}, {"train_loss": 1.5, "step": 3}]
    got = loss_curve(hist)
    assert got["loss_curve"][:2] == [2.0, 1.0] and math.isnan(got["loss_curve"][2])
    assert got["grad_norm"][:2] == [3.0, 2.0]
    assert loss_curve([{"loss": 1.23456789}])["grad_norm"] is None
    assert loss_curve([{"loss": 1.23456789}])["loss_curve"] == [1.2346]
    assert window_means([4.0, 3.0, 2.0, 1.0], 4) == (4.0, 1.0)
    assert window_means([float(i) for i in range(25)], 25) == (0.5, 22.5)  # windows of 2 steps, as logged before


def test_keep_samples_keeps_the_first_five_of_each_skill_and_format(tmp_path):
    samples = [{"skill": s, "format": f, "key": str(i), "prompt": "p", "completion": "c", "answer": "a", "ok": True,
                "reason": "r", "lenient_ok": True} for s in ("add", "mul") for f in ("exam", "native") for i in range(8)]
    kept = S.keep_samples(samples)
    assert len(kept) == 20 and set(kept[0]) == {"skill", "format", "key", "prompt", "completion", "answer", "ok"}
    assert [k["key"] for k in kept[:6]] == ["0", "1", "2", "3", "4", "0"]
    assert S.write_samples(None, kept) == {}
    assert S.write_samples(tmp_path / "run", kept) == {"samples_file": "samples.jsonl"}
    lines = (tmp_path / "run" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == kept


# ---- the climb's worker: a run checked, retried once, its samples kept (the recipe and the eval stand in) ----
HP = {"learning_rate_full": 1e-3, "learning_rate_lora": 4e-3, "min_steps": 4, "batch_size": 2}
FELL = {"loss_curve": FALLING, "first_loss": 1.9, "last_loss": 0.4, "seconds": 1.0, "flops": 1.0, "train_loss": 1.0}


def cell(correct, n=100):
    return {"correct": correct, "n": n, "accuracy": correct / n, "lenient_correct": correct}


def worker(monkeypatch, stats_at, target_at, base_eval=None):
    """A climb context, with train_sft giving `stats_at(lr)` and the eval scoring `target_at(lr)` of 100 items."""
    import dataladder.ladder.climb as C

    calls = {"train": [], "base": 0}

    def train_sft(base, tok, rows, method, lora_r, hp, seed, on_step=None, tracking=None):
        calls["train"].append((hp.learning_rate_full, seed, len(rows), (tracking or {}).get("run_name")))
        return {"lr": hp.learning_rate_full}, dict(stats_at(hp.learning_rate_full))

    def eval_model(model, ctx):
        lr = model["lr"] if isinstance(model, dict) else None
        return ({"add": {"exam": cell(target_at(lr))}},
                [{"skill": "add", "format": "exam", "key": "1+1", "prompt": "1+1=", "completion": f"lr={lr}",
                  "answer": "2", "ok": False}])

    def score_formats(gen, sk, items, formats, on_batch=None):
        calls["base"] += 1
        return {"exam": cell(73)}, [], 0.0

    monkeypatch.setattr(C, "train_sft", train_sft)
    monkeypatch.setattr(C, "_eval_model", eval_model)
    monkeypatch.setattr(C, "score_formats", score_formats)
    cfg = C.ClimbConfig(skills=["add"], eval_skills=["add"], hp=HP)
    ctx = C.Context("m", "fp", object(), None, None, {"add": (None, {"exam": []})}, {("add", 0): [{}] * 50},
                    base_eval=base_eval)
    return C, cfg, ctx, C.rung_config("fp", cfg, "add", None, 20, 0), calls


def test_a_sound_run_is_trained_once_and_keeps_its_samples(monkeypatch, tmp_path):
    C, cfg, ctx, rc, calls = worker(monkeypatch, lambda lr: FELL, lambda lr: 90)
    res = C.execute(ctx, cfg, rc, run_dir=tmp_path / "run")
    assert [c[0] for c in calls["train"]] == [1e-3] and calls["base"] == 0  # 0.9: no base looked up
    assert res["soundness"] == {"sound": True, "reason": None, "retried": None}
    assert res["samples_file"] == "samples.jsonl" and "seconds" not in res
    assert json.loads((tmp_path / "run" / "samples.jsonl").read_text())["completion"] == "lr=0.001"


def test_a_collapsed_run_is_retried_at_a_quarter_of_the_rate_with_the_same_seed(monkeypatch, tmp_path):
    C, cfg, ctx, rc, calls = worker(monkeypatch, lambda lr: FELL, lambda lr: 0 if lr == 1e-3 else 70)
    res = C.execute(ctx, cfg, rc, {"run_name": "s/add-full/n=20/seed=0"}, run_dir=tmp_path / "run")
    assert calls["train"] == [(1e-3, 0, 20, "s/add-full/n=20/seed=0"), (2.5e-4, 0, 20, "s/add-full/n=20/seed=0/retry")]
    assert calls["base"] == 1  # the base's target score, scored once in this context (no base-eval ran here)
    assert res["soundness"]["sound"] is True and res["eval"]["add"]["exam"]["correct"] == 70
    assert res["soundness"]["retried"]["learning_rate"] == 2.5e-4
    assert res["soundness"]["retried"]["first_reason"] == \
        "collapsed: target accuracy 0.73 → 0.00 while the loss fell 1.9 → 0.4"
    assert res["seconds"] > res["train"]["seconds"]  # both attempts count against the time budget
    assert json.loads((tmp_path / "run" / "samples.jsonl").read_text())["completion"] == "lr=0.00025"
    ctx.base_target("add", "exam")
    assert calls["base"] == 1  # cached


def test_a_run_unsound_after_its_retry_is_marked_and_the_base_eval_is_reused(monkeypatch):
    nan = {**FELL, "loss_curve": [2.0, 1.0, math.nan]}
    C, cfg, ctx, rc, calls = worker(monkeypatch, lambda lr: nan if lr == 1e-3 else FELL, lambda lr: 0,
                                    base_eval={"add": {"exam": cell(73)}})
    res = C.execute(ctx, cfg, rc)
    first = res["soundness"]["retried"].pop("first_seconds")
    assert res["soundness"] == {"sound": False, "reason": "collapsed: target accuracy 0.73 → 0.00 while the loss "
                                "fell 1.9 → 0.4", "retried": {"learning_rate": 2.5e-4, "first_reason": "loss NaN at step 3"}}
    assert res["train"]["loss_curve"] == FALLING  # the retry's training is the run's
    assert first >= 1.0 and calls["base"] == 0 and [c[0] for c in calls["train"]] == [1e-3, 2.5e-4]
    assert "samples_file" not in res  # no run directory given
    rc2 = C.rung_config("fp", cfg, "add", None, 20, 0)
    assert rc2 == rc and "soundness" not in rc2  # the run store key is the config's alone: unchanged


def test_the_sft_rung_records_retries_samples_and_forgets_over_sound_seeds_only():
    from dataladder.ladder.climb import ClimbConfig, SFTLadder
    from dataladder.core.store import run_key

    base = {"add": {"exam": cell(10), "native": cell(50)}}
    cfg = ClimbConfig(skills=["add"], eval_skills=["add"], hp=HP)
    lad = SFTLadder("m", "fp", cfg, "add", None, base, 1000)
    rcs = [{"seed": 0, "n": 20}, {"seed": 1, "n": 20}, {"seed": 2, "n": 20}]
    train = {"seconds": 1.0, "flops": 2.0, "train_loss": 0.5}
    results = [
        {"eval": {"add": {"exam": cell(60), "native": cell(40)}}, "train": train, "eval_seconds": 1.0},  # stored before
        {"eval": {"add": {"exam": cell(0), "native": cell(0)}}, "train": train, "eval_seconds": 1.0,
         "samples_file": "samples.jsonl",
         "soundness": {"sound": False, "reason": "loss NaN at step 3",
                       "retried": {"learning_rate": 1e-4, "first_reason": "loss NaN at step 2", "first_seconds": 2.0}}},
        {"eval": {"add": {"exam": cell(70), "native": cell(50)}}, "train": train, "eval_seconds": 1.0,
         "samples_file": "samples.jsonl", "soundness": {"sound": True, "reason": None, "retried": None}}]
    ex = lad.extra(rcs, results)
    assert ex["forgetting"] == {"add/native": pytest.approx(-0.05)}  # seeds 0 and 2: (0.4 + 0.5) / 2 - 0.5
    assert ex["samples"] == [f"runs/{run_key(rcs[1])}/samples.jsonl", f"runs/{run_key(rcs[2])}/samples.jsonl"]
    assert ex["retried"] == [{"seed": 1, "learning_rate": 1e-4, "first_reason": "loss NaN at step 2", "first_seconds": 2.0}]
    assert ex["train_seconds"] == 3.0  # every run's time is spent, sound or not
    assert "retried" not in lad.extra(rcs[:1], results[:1])


def test_the_report_shows_the_worst_rungs_samples(tmp_path):
    from dataladder.report.samples import samples_section, worst_rung

    (tmp_path / "runs" / "b").mkdir(parents=True)
    (tmp_path / "runs" / "b" / "samples.jsonl").write_text(
        json.dumps({"skill": "add", "format": "exam", "key": "1+1", "prompt": "Q: 1+1", "completion": "<b>7",
                    "answer": "2", "ok": False}) + "\n"
        + json.dumps({"skill": "mul", "format": "exam", "key": "2*2", "prompt": "x", "completion": "other skill",
                      "answer": "4", "ok": True}) + "\n")
    rungs = [{"n": 20, "accuracy": 0.1, "seeds": [{"seed": 0}], "samples": ["runs/a/samples.jsonl"]},
             {"n": 40, "accuracy": 0.6, "seeds": [{"seed": 0}], "samples": ["runs/b/samples.jsonl"], "unsound": True,
              "reasons": ["loss NaN at step 3"]},
             {"n": 80, "accuracy": 0.9, "seeds": [{"seed": 0}]}]
    arm = {"skill": "add", "label": "full", "target_format": "exam", "rungs": rungs}
    assert worst_rung(arm)["n"] == 40  # unsound first, then the lowest accuracy
    page = samples_section(tmp_path, {"arms": [arm]})
    assert "n=40" in page and "unsound: loss NaN at step 3" in page and "&lt;b&gt;7" in page and "other skill" not in page
    assert samples_section(tmp_path, {"arms": [{**arm, "rungs": rungs[2:]}]}) == ""  # a ladder stored before samples


def test_fit_and_the_recommendation_leave_unsound_rungs_and_seeds_out():
    from dataladder.forecast.points import rung_points

    r = {"n": 40, "correct": 15, "total": 30, "seeds": [{"seed": 0, "accuracy": 0.5},
                                                       {"seed": 1, "accuracy": 0.0, "unsound": "loss NaN at step 3"}]}
    assert rung_points(r, "n") == [(40.0, 0.5, 30, 0)]
