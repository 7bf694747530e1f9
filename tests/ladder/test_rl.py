import json
import random

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.ladder.rl_checks import (diversity, overoptimization, signal_check, zero_signal_estimate,
                                         zero_signal_share)
from dataladder.skills import get_skill

runner = CliRunner()


def test_zero_signal_formula_matches_simulation():
    rng = random.Random(0)
    G = 8
    rates = [rng.choice([0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0]) for _ in range(200)]
    trials = 200
    same = 0
    for p in rates:
        for _ in range(trials):
            draws = [rng.random() < p for _ in range(G)]
            same += all(draws) or not any(draws)
    simulated = same / (len(rates) * trials)
    assert abs(zero_signal_share(rates, G) - simulated) < 0.01
    assert zero_signal_share([0.0, 1.0], G) == 1.0
    assert zero_signal_share([0.5], 2) == 0.5


def test_zero_signal_estimate_is_unbiased_where_plug_in_is_not():
    rng = random.Random(1)
    p, G, k = 0.7, 8, 16
    est, plug = [], []
    for _ in range(4000):
        s = sum(rng.random() < p for _ in range(k))
        est.append(zero_signal_estimate(s, k, G))
        plug.append((s / k) ** G + (1 - s / k) ** G)
    truth = p**G + (1 - p) ** G
    assert abs(sum(est) / len(est) - truth) < 0.01
    assert sum(plug) / len(plug) - truth > 0.02  # the plug-in overstates the share
    assert zero_signal_estimate(0, k, G) == 1.0 and zero_signal_estimate(k, k, G) == 1.0
    with pytest.raises(ValueError):
        zero_signal_estimate(3, 4, 8)


def test_signal_check_warns_on_a_missing_skill():
    sk = get_skill("mul", digits=1)
    items = sk.items("train", 20, 0)
    wrong = [[str(int(it.answer) + 1)] * 8 for it in items]
    c = signal_check(sk, items, wrong, 8, warn_at=0.5)
    assert c["predicted_zero_signal"] == 1.0 and c["warning"] and c["share_all_fail"] == 1.0
    mixed = [[it.answer] * 4 + ["none"] * 4 for it in items]
    c = signal_check(sk, items, mixed, 4, warn_at=0.5)
    assert not c["warning"] and c["mean_pass_rate"] == 0.5


def test_diversity_counts_difficulty_and_duplicates():
    sk = get_skill("mul", digits=2)
    items = sk.items("train", 200, 0)
    prompts = [sk.formats["native"].prompt(it) for it in items]
    d = diversity(get_skill("mul"), items + items[:20], prompts + prompts[:20], "native")
    assert d["prompts"] == 220 and d["skills"] == {"mul": 220}
    assert abs(d["exact_duplicate_share"] - 20 / 220) < 1e-9
    assert set(d["features"]["operand_digits"]) <= {"1×1", "1×2", "2×1", "2×2"} and sum(d["features"]["operand_digits"].values()) == 220
    assert d["near_duplicate_share"] < 0.05  # different operands are different problems


def test_overoptimization_flags_rm_rising_while_verified_falls():
    log = [{"step": s, "rm": s / 40, "ver": 0.5 + s / 100 if s <= 20 else 0.7 - (s - 20) / 100} for s in range(1, 41)]
    o = overoptimization(log, "rm", "ver", window=5)
    assert o["ranges"] and o["ranges"][0]["steps"][0] >= 16 and o["ranges"][-1]["steps"][1] == 40
    assert all(r["rm_change"] > 0 and r["verified_change"] <= 0 for r in o["ranges"])
    rising = [{"step": s, "rm": s, "ver": s} for s in range(1, 41)]
    assert overoptimization(rising, "rm", "ver", window=5)["ranges"] == []


def test_schedule_is_geometric_within_budget():
    from dataladder.ladder.rl import RLConfig, schedule

    assert schedule(RLConfig(start_steps=16, max_rollouts=64 * 128)) == [16, 32, 64, 128]
    with pytest.raises(ValueError, match="below one rung"):
        schedule(RLConfig(start_steps=16, max_rollouts=100))


@pytest.mark.parametrize("args, msg", [
    (["--skill", "mull"], "did you mean 'mul'"),
    (["--format", "poem"], "--format: unknown mul format 'poem'"),
    (["--online-every", "4"], "needs --reward-model"),
    (["--budget", "lots"], "--budget"),
    (["--hp", "learning_rat=1"], "learning_rat"),
    (["--cold-start", "-3"], "--cold-start -3"),
    (["--cold-start", "lots"], "--cold-start lots: 'auto', 0"),
])
def test_cli_bad_input_exits_2_before_work(tmp_path, args, msg):
    r = runner.invoke(app, ["rl", *args, "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert msg in r.output
    assert not (tmp_path / "out" / "rl.json").exists()


def test_cli_reward_model_dir_must_exist(tmp_path):
    r = runner.invoke(app, ["rl", "--reward-model", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 2 and "not a reward model directory" in r.output


@pytest.mark.integration
def test_rl_writes_rl_json_and_resumes(micro_dir, tmp_path, monkeypatch):
    from dataladder.ladder import rl as rl_mod

    cfg = rl_mod.RLConfig(model=str(micro_dir), skill="add", format="native", cold_start=0, start_steps=1,
                          max_rollouts=4 * 16, eval_n=16, check_prompts=8, check_samples=4, n_boot=20, min_rungs=3,
                          hp={"prompts_per_step": 4, "num_generations": 4, "learning_rate": 1e-3})
    out = tmp_path / "rl"
    doc = rl_mod.rl(cfg, out, on_rung=lambda s: None)
    saved = json.loads((out / "rl.json").read_text())
    assert (out / "rl.png").stat().st_size > 0
    assert [r["n"] for r in saved["rungs"]] == [16, 32, 64] and saved["unit"] == "rollouts"
    # the early forecast from the third rung on; the last one is the final fit's answer
    assert [r["forecast"] is None for r in saved["rungs"]] == [True, True, False]
    assert saved["rungs"][2]["forecast"]["n_target"] == saved["fit"]["n_target"]
    for r in saved["rungs"]:
        assert {"n", "steps", "accuracy", "ci_low", "ci_high", "correct", "total"} <= set(r)
        assert r["total"] == 16 and r["ci_low"] <= r["accuracy"] <= r["ci_high"]
    for k in ("before", "after", "improved", "zero_signal", "check", "diversity", "fit", "stop", "saturation",
              "recommendation", "arms", "format"):
        assert k in saved
    z = saved["zero_signal"]
    assert 0 <= z["predicted"] <= 1 and z["steps"] == 4 and z["early_steps"] == 1
    steps = [h["step"] for h in saved["arms"][0]["log"]]
    assert steps == [1, 2, 3, 4]  # one global step counter across rungs
    assert doc["fit"] is not None and saved["saturation"]["delta"] == 0.02

    # the last rung's recorded accuracy is that of its saved weights (rungs chain: no stale model objects);
    # the earlier rungs' weights are pruned (tests/ladder/test_rl_weights.py recomputes them)
    from transformers import AutoModelForCausalLM

    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model

    _, tok = load_model(str(micro_dir))
    sk = get_skill("add", digits=2)
    items = sk.items("eval", 16, 0)
    *early, last = saved["arms"][0]["rungs"]
    assert not any((out / r["run_dirs"][0] / "model").exists() for r in early)
    m = AutoModelForCausalLM.from_pretrained(out / last["run_dirs"][0] / "model").eval()
    assert rl_mod.eval_greedy(HFGenerator(m, tok), sk, items, "native")["correct"] == last["correct"]

    # a rerun trains nothing: every rung comes from the run store
    def boom(*a, **k):
        raise AssertionError("retrained a finished rung")

    monkeypatch.setattr("dataladder.train.grpo.train_grpo", boom)
    again = rl_mod.rl(cfg, out, on_rung=lambda s: None)
    drop = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert drop(again["rungs"]) == drop(saved["rungs"])


@pytest.mark.integration
def add_reward_model(model_dir, path):
    """A micro reward model trained briefly on add's gold answers against off-by-one ones, saved at `path`."""
    from dataladder.models.hub import load_model
    from dataladder.train.reward import RewardHparams, save_reward_model, train_reward

    base, tok = load_model(str(model_dir))
    pairs = [{"prompt": f"{it.key}=", "chosen": it.answer, "rejected": str(int(it.answer) + 1)}
             for it in get_skill("add", digits=2).items("train", 32, 5)]
    rm, _ = train_reward(base, tok, pairs, RewardHparams(min_steps=4, max_steps=4, batch_size=8))
    return save_reward_model(rm, tok, path)


def test_rl_with_reward_model_tracks_verifier_and_retrains_online(micro_dir, tmp_path):
    from dataladder.ladder import rl as rl_mod

    add_reward_model(micro_dir, tmp_path / "rm")
    cfg = rl_mod.RLConfig(model=str(micro_dir), skill="add", format="native", cold_start=0, start_steps=2,
                          max_rollouts=16 * 4, eval_n=16, check_prompts=8, check_samples=4, n_boot=20,
                          reward_model=str(tmp_path / "rm"), online_every=1,
                          hp={"prompts_per_step": 4, "num_generations": 4, "learning_rate": 1e-3})
    doc = rl_mod.rl(cfg, tmp_path / "rl", on_rung=lambda s: None)
    assert [a["reward"] for a in doc["arms"]] == ["reward-model", "online"]
    for a in doc["arms"]:
        assert [h["step"] for h in a["log"]] == [1, 2, 3, 4]
        assert all("rewards/reward_model/mean" in h and "rewards/verifier/mean" in h for h in a["log"])
        assert "ranges" in a["overoptimization"]
    online = doc["arms"][1]["online"]
    assert [o["step"] for o in online] == [1, 2, 3, 4]
    assert all(o["pairs"] >= o["fresh_pairs"] for o in online)
    assert doc["rungs"] == doc["arms"][1]["rungs"]


@pytest.mark.integration
def test_cold_start_runs_when_the_check_warns_and_is_stored(micro_dir, tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from dataladder.ladder import rl as rl_mod
    from dataladder.core.store import RunStore
    from dataladder.models.hub import load_model

    common = dict(model=str(micro_dir), skill="add", start_steps=1, max_rollouts=4 * 16, eval_n=16,
                  check_prompts=8, check_samples=4, n_boot=20, min_rungs=3, cold_start_examples=12,
                  hp={"prompts_per_step": 4, "num_generations": 4, "learning_rate": 1e-3})
    # warn_at 0: the check always warns, so 'auto' cold-starts; in the target format (exam)
    cfg = rl_mod.RLConfig(**common, warn_at=0.0)
    notes: list[str] = []
    out = tmp_path / "rl"
    doc = rl_mod.rl(cfg, out, on_rung=notes.append)
    cs = doc["cold_start"]
    assert doc["format"] == "exam" and cs["reason"] == "auto: the check warned"
    assert cs["examples"] == 12 and cs["verified"] == 12 and cs["steps"] > 0
    assert cs["check_before"]["warning"] and set(cs["formats_before"]) == set(cs["formats_after"]) == {"native", "exam"}
    assert doc["before"]["correct"] == cs["formats_after"]["exam"]["correct"]  # RL starts from the cold-started policy
    assert set(doc["after_formats"]) == {"native", "exam"}
    assert doc["after_formats"]["exam"]["correct"] == doc["after"]["correct"]
    assert any(n.startswith("cold start (12 examples") for n in notes)
    # the stored cold-start weights differ from the base; its prompts are kept out of the RL prompts
    base, _ = load_model(str(micro_dir))
    cold = AutoModelForCausalLM.from_pretrained(RunStore(out).path(cs["key"]) / "model")
    assert any(not torch.equal(a, b) for a, b in zip(base.state_dict().values(), cold.state_dict().values()))
    sk = get_skill("add", digits=2)
    rl_prompts = set(rl_mod.draw_pool(sk, 64, 0, frozenset(cs["key"]["items"])))
    assert not {it.key for it in rl_prompts} & set(cs["key"]["items"]) and len(cs["key"]["items"]) == 12

    # --cold-start 0 never cold-starts, even when the check warns
    none = rl_mod.rl(rl_mod.RLConfig(**{**common, "cold_start": 0}, warn_at=0.0), tmp_path / "rl0", on_rung=lambda s: None)
    assert none["cold_start"] is None and none["before"]["correct"] == none["base_formats"]["exam"]["correct"]

    # a rerun neither cold-starts nor trains again
    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr("dataladder.train.sft.train_sft", boom)
    monkeypatch.setattr("dataladder.train.grpo.train_grpo", boom)
    assert rl_mod.rl(cfg, out, on_rung=lambda s: None)["rungs"] == doc["rungs"]
