"""The pair-count ladder: saturation rule, prefs.json fields, the kept reward model, resume via the run store."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from dataladder.ladder.fit import N_GRID
from dataladder.ladder.fit import saturation
from dataladder.ladder.prefs import PrefsConfig, check_config


def test_saturation_is_where_ten_times_more_stops_paying():
    # 0.5 + 0.1 per decade, flat at 0.9 from 10^4: 10× more gains ≥ 0.02 until log10 n = 3.8
    c = np.minimum(0.9, 0.5 + 0.1 * np.log10(N_GRID))
    fit = SimpleNamespace(curves=np.stack([c, c, c]))
    s = saturation(fit, 0.02, n_min=50, n_max_measured=3200)
    assert s["median"] == pytest.approx(10**3.8, rel=0.02)
    assert s["p_saturated"] == 1.0 and s["p_saturated_by_largest_rung"] == 0.0
    assert s["gain_10x_at_largest_rung"]["mean"] == pytest.approx(0.9 - (0.5 + 0.1 * math.log10(3200)), abs=1e-3)
    # a sigmoid's flat start is not saturation: the last decade that still pays decides
    sig = 0.5 + 0.4 / (1 + np.exp(-3 * (np.log(N_GRID) - np.log(1000))))
    s2 = saturation(SimpleNamespace(curves=sig[None, :]), 0.02, n_min=10, n_max_measured=100)
    assert s2["median"] > 1000
    # still climbing a decade per 0.1 at 10^6: not saturated
    lin = 0.1 * np.log10(N_GRID) / 7
    s3 = saturation(SimpleNamespace(curves=np.stack([lin * 7])), 0.02, 50, 3200)
    assert s3["median"] is None and s3["p_saturated"] == 0.0


def test_config_errors_before_work():
    with pytest.raises(ValueError, match="unseen"):
        check_config(PrefsConfig(train_sources=["near-miss"], heldout_sources=["near-miss"]))
    with pytest.raises(ValueError, match="other-model"):
        check_config(PrefsConfig(heldout_sources=["other"]))
    with pytest.raises(ValueError, match="at least one"):
        check_config(PrefsConfig(train_sources=[]))


@pytest.mark.integration
def test_prefs_ladder_writes_results_and_resumes(micro_dir, tmp_path, monkeypatch):
    import dataladder.ladder.prefs as prefs_mod
    from dataladder.train.reward import load_reward_model

    cfg = PrefsConfig(model=str(micro_dir), skill="add", train_sources=["near-miss"],
                      heldout_sources=["self"], start=8, max_pairs=32, seeds=1, heldout_n=24, n_boot=20, min_rungs=3,
                      flip_share=0.25, hp={"min_steps": 4, "max_steps": 6, "batch_size": 4})
    out = tmp_path / "prefs"
    lines = []
    doc = prefs_mod.prefs(cfg, out, on_rung=lines.append)
    saved = json.loads((out / "prefs.json").read_text())
    assert saved["rungs"] == json.loads(json.dumps(doc["rungs"]))
    assert [r["n"] for r in doc["rungs"]][:3] == [8, 16, 32] and len(lines) == len(doc["rungs"])
    for r in doc["rungs"]:
        assert r["total"] == 24 and 0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1
        assert set(r["by_source"]) == {"near-miss", "self"}
        assert r["by_source"]["self"]["n"] == r["unseen"]["n"] == 24
        assert sum(h["n"] for h in r["by_hardness"].values()) == 48
        assert r["train_pairs"][0]["by_source"] == {"near-miss": r["n"]}
    # the flips are drawn over the whole pool (max_pairs): the full-pool rung holds exactly the share
    assert [r["train_pairs"][0]["flipped"] for r in doc["rungs"] if r["n"] == 32] == [8]
    assert doc["heldout"] == {"train_sources": ["near-miss"], "unseen_sources": ["self"],
                              "pairs": {"near-miss": 24, "self": 24}, "hard": doc["heldout"]["hard"]}
    assert doc["fit"] is not None and doc["saturation"] is not None and doc["stop"]["reason"]
    # the early forecast: recorded from the third rung on, the last one the final fit's answer
    assert [r["forecast"] is None for r in doc["rungs"]][:2] == [True, True]
    assert doc["rungs"][-1]["forecast"]["n_target"] == doc["fit"]["n_target"]
    assert (out / "prefs.png").stat().st_size > 1000
    rm, tok = load_reward_model(out / "reward_model")
    assert rm.config.num_labels == 1 and doc["reward_model"]["pairs"] == doc["rungs"][-1]["n"]
    from dataladder.ladder.rl import reward_model_format

    assert reward_model_format(str(out / "reward_model")) == cfg.format  # rl prompts it in the format it learned
    weights = out / "reward_model" / "model.safetensors"  # one copy on disk: a link to the run store's file
    stored = [p for p in (out / "runs").rglob("model.safetensors") if p.samefile(weights)]
    assert weights.stat().st_nlink == 2 and len(stored) == 1
    assert not (stored[0].parent / "dataladder.json").exists()  # the link's own file is written apart

    def boom(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("dataladder.train.reward.train_reward", boom)
    again = prefs_mod.prefs(cfg, out)
    assert [r["accuracy"] for r in again["rungs"]] == [r["accuracy"] for r in doc["rungs"]]


def test_cli_bad_options_exit_2_before_work(tmp_path):
    from typer.testing import CliRunner

    from dataladder.cli.main import app

    runner = CliRunner()
    for args, msg in ((["--train-sources", "teacher"], "unknown pair source"),
                      (["--heldout-sources", "other"], "--other-model"),
                      (["--skill", "mull"], "mul"),
                      (["--flip-share", "2"], "--flip-share")):
        r = runner.invoke(app, ["prefs", *args, "--output-dir", str(tmp_path / "p")])
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.output
    assert not (tmp_path / "p").exists()
    r = runner.invoke(app, ["compare", "--prefs", str(tmp_path / "none"), "--output-dir", str(tmp_path / "c")])
    assert r.exit_code == 2 and "prefs.json" in r.output


def test_a_stored_prefs_config_reads_back_whatever_its_budget():
    """rm-policy rebuilds the prefs config from prefs.json, every field set: the default --min-pairs (capped at half
    the budget when it runs) must not read as given there; given on the command line over half the budget, it is
    refused by check_config."""
    from dataladder.ladder.prefs import PrefsConfig, check_config

    small = PrefsConfig(max_pairs=400)
    assert PrefsConfig(**small.model_dump()).min_pairs == small.min_pairs
    with pytest.raises(ValueError, match=r"\(--min-pairs\) 300 is more than half the budget"):
        check_config(PrefsConfig(max_pairs=400, min_pairs=300))
