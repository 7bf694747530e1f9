"""RL keeps only the weights a later step reads: a verifier arm's last rung. A rerun that needs a pruned
rung's weights (a smaller budget, a chain continued from it) recomputes them, to the bit, on the CPU."""

import json
import shutil

import pytest

from dataladder.skills import get_skill


def _rows(n: int = 16):
    sk = get_skill("add", digits=1)
    return [{"prompt": sk.formats["native"].prompt(it), "answer": it.answer, "key": it.key, "stop": ["\n"]}
            for it in sk.items("train", n, 0)]


def _parity(prompts, completions, **_):  # varies within every group, so every step has signal
    return [float(len(c) % 2) for c in completions]


@pytest.mark.integration
def test_grpo_is_deterministic_in_place_from_disk_and_again(micro, tmp_path):
    from transformers import AutoModelForCausalLM

    from dataladder.train.grpo import GRPOHparams, fresh_copy, tensor_digests, train_grpo, weights_digest

    base, tok = micro
    base0 = weights_digest(base)
    hp = GRPOHparams(learning_rate=1e-3, prompts_per_step=2, num_generations=4)
    rows = _rows()
    kw = dict(max_completion_length=6)
    a, sa = train_grpo(base, tok, rows, [_parity], hp, steps=2, seed=0, **kw)
    b, sb = train_grpo(a, tok, rows[4:], [_parity], hp, steps=2, seed=2, **kw)
    assert weights_digest(base) == base0 and sa["weights"] != base0  # a copy trained; the base untouched
    assert sb["weights"] == weights_digest(b) and sb["tensors_changed"] == len(tensor_digests(b))
    # the second rung again from the first rung's saved weights, in place: the same bits
    a.save_pretrained(tmp_path / "a")
    a2 = AutoModelForCausalLM.from_pretrained(tmp_path / "a").eval()
    b2, sb2 = train_grpo(a2, tok, rows[4:], [_parity], hp, steps=2, seed=2, in_place=True, **kw)
    metrics = lambda st: [[h[k] for k in ("loss", "grad_norm", "reward", "reward_std", "entropy")]  # noqa: E731
                          for h in st["log"]]  # not the step times
    assert b2 is a2 and sb2["weights"] == sb["weights"] and metrics(sb2) == metrics(sb)
    # the whole chain again from the base: the same bits
    a3, _ = train_grpo(fresh_copy(base), tok, rows, [_parity], hp, steps=2, seed=0, in_place=True, **kw)
    assert train_grpo(a3, tok, rows[4:], [_parity], hp, steps=2, seed=2, in_place=True, **kw)[1]["weights"] == sb["weights"]


@pytest.mark.integration
def test_rl_prunes_earlier_rungs_and_recomputes_them_exactly(micro_dir, tmp_path, monkeypatch):
    from dataladder.ladder import rl as rl_mod
    from dataladder.core.store import RunStore
    from dataladder.train.grpo import weights_digest

    def cfg(rollouts: int):
        return rl_mod.RLConfig(model=str(micro_dir), skill="add", format="native", cold_start=0, start_steps=1,
                               max_rollouts=rollouts, eval_n=8, check_prompts=8, check_samples=4, n_boot=20,
                               min_rungs=9, hp={"prompts_per_step": 4, "num_generations": 4, "learning_rate": 1e-3})

    out = tmp_path / "rl"
    full = rl_mod.rl(cfg(4 * 16), out, on_rung=lambda s: None)  # rungs at 1, 2, 4 steps
    dirs = [out / r["run_dirs"][0] for r in full["rungs"]]
    assert [r["steps"] for r in full["rungs"]] == [1, 2, 4]
    assert [(d / "model").is_dir() for d in dirs] == [False, False, True]  # only the last rung keeps weights
    results = [json.loads((d / "result.json").read_text()) for d in dirs]
    assert all(len(r["weights"]) == 32 for r in results)
    assert full["after_weights_restored"] is None

    # a smaller budget ends at the pruned 2-step rung: its weights are recomputed (from the start), to the bit
    from dataladder.train import grpo

    calls = []
    real = grpo.train_grpo
    monkeypatch.setattr(grpo, "train_grpo", lambda *a, **k: calls.append(a[5]) or real(*a, **k))
    small = rl_mod.rl(cfg(2 * 16), out, on_rung=lambda s: None)
    assert small["rungs"] == full["rungs"][:2]  # the same run-store entries: nothing measured again
    assert small["after_weights_restored"] == {"from_steps": 0, "recomputed_steps": [1, 2], "exact": True}
    assert calls == [1, 1]  # the chain's two rungs, one step each
    from transformers import AutoModelForCausalLM

    assert weights_digest(AutoModelForCausalLM.from_pretrained(dirs[1] / "model")) == results[1]["weights"]
    assert small["after_formats"]["native"]["correct"] == small["after"]["correct"]
    assert not (dirs[0] / "model").exists() and (dirs[2] / "model").is_dir()  # not this run's rungs: left alone

    # a larger budget continues from the 4-step rung; with its weights gone, they are recomputed from the
    # nearest kept rung (2 steps) and checked against the digest, then the 8-step rung trains on them
    shutil.rmtree(dirs[2] / "model")
    calls.clear()
    more = rl_mod.rl(cfg(8 * 16), out, on_rung=lambda s: None)
    assert [r["steps"] for r in more["rungs"]] == [1, 2, 4, 8] and calls == [2, 4]
    last = RunStore(out).get({**json.loads((out / more["rungs"][3]["run_dirs"][0] / "config.json").read_text())})
    assert last["restored"] == {"from_steps": 2, "recomputed_steps": [4], "exact": True}
    # and its weights equal those of an uninterrupted climb to 8 steps
    fresh = rl_mod.rl(cfg(8 * 16), tmp_path / "fresh", on_rung=lambda s: None)
    want = json.loads((tmp_path / "fresh" / fresh["rungs"][3]["run_dirs"][0] / "result.json").read_text())
    assert last["weights"] == want["weights"] and more["rungs"][3]["correct"] == fresh["rungs"][3]["correct"]
    assert [(out / r["run_dirs"][0] / "model").is_dir() for r in more["rungs"]] == [False, False, False, True]


@pytest.mark.integration
def test_reward_model_arms_keep_every_rungs_weights(micro_dir, tmp_path):
    """Recomputed, a reward-model arm's rung did not equal its stored weights to the bit (the static and the
    online arm alike), so those arms are not pruned: a rerun reads their weights as before."""
    from dataladder.ladder import rl as rl_mod
    from tests.ladder.test_rl import add_reward_model

    add_reward_model(micro_dir, tmp_path / "rm")

    def cfg(rollouts: int):
        return rl_mod.RLConfig(model=str(micro_dir), skill="add", format="native", cold_start=0, start_steps=1,
                               max_rollouts=rollouts, eval_n=8, check_prompts=8, check_samples=4, n_boot=20,
                               reward_model=str(tmp_path / "rm"), online_every=1,
                               hp={"prompts_per_step": 4, "num_generations": 4, "learning_rate": 1e-3})

    out = tmp_path / "rl"
    full = rl_mod.rl(cfg(2 * 16), out, on_rung=lambda s: None)  # rungs at 1 and 2 steps, two arms
    for arm in full["arms"]:
        for r in arm["rungs"]:
            d = out / r["run_dirs"][0]
            assert (d / "model").is_dir() and (d / "reward_model").is_dir() == (arm["reward"] == "online")
    small = rl_mod.rl(cfg(1 * 16), out, on_rung=lambda s: None)  # ends at the kept 1-step rung: read, not recomputed
    assert small["after_weights_restored"] is None
