"""Experiment tracking: backend check, TrainingArguments keywords, the ladder's metrics and a training run in
TensorBoard (offline), read back with TensorBoard's own reader."""

import os
import pickle
from pathlib import Path

import pytest

from dataladder.train.tracking import REPORT_TO, Tracking, check


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_check_names_the_flag_and_the_fix(monkeypatch):
    assert check("none") == "none" and check("tensorboard") == "tensorboard"
    with pytest.raises(ValueError) as e:
        check("tensorbord")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("--report-to tensorbord") and "'tensorboard'" in msg
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    for name in REPORT_TO[1:]:
        with pytest.raises(ValueError, match=f"^--report-to {name} .*pip install {name}$"):
            check(name)


def test_training_kwargs_and_env(tmp_path):
    assert Tracking().training_kwargs("s/l/n=8/seed=0") == {"report_to": "none"}
    tb = Tracking("tensorboard", root=str(tmp_path), group="s/l")
    assert tb.training_kwargs("s/l/n=8/seed=0") == {"report_to": ["tensorboard"], "run_name": "s/l/n=8/seed=0"}
    assert Tracking("trackio", group="s/l").training_kwargs("r")["project"] == "s-l"
    assert pickle.loads(pickle.dumps(tb)) == tb  # sent to Ray workers
    before = dict(os.environ)
    with tb.env("s/l/n=8/seed=0"):
        assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "s/l/n=8/seed=0")
    with Tracking("wandb", group="s/l").env("r"):
        assert os.environ["WANDB_RUN_GROUP"] == "s/l"
    with Tracking("mlflow", group="s/l").env("r"):
        assert os.environ["MLFLOW_EXPERIMENT_NAME"] == "s/l"
    assert dict(os.environ) == before
    with pytest.raises(ValueError, match="tensorboard needs a directory"):
        Tracking("tensorboard")
    with pytest.raises(ValueError, match="^--report-to wandbb"):
        Tracking("wandbb")


def test_log_rung_writes_the_ladder_metrics_at_step_n(tmp_path):
    Tracking().log_rung("s/l", 8, {"accuracy": 0.5})  # none: a no-op
    assert not any(tmp_path.iterdir())
    tb = Tracking("tensorboard", root=str(tmp_path), group="s/l")
    tb.log_rung("s/l", 8, {"accuracy": 0.5, "ci_low": 0.25, "ci_high": 0.75, "forecast_n": None})
    tb.log_rung("s/l", 16, {"accuracy": 0.625, "ci_low": 0.5, "ci_high": 0.75, "forecast_n": 40.0})
    got = scalars(tmp_path / "s/l/ladder")
    assert got == {"ladder/accuracy": [(8, 0.5), (16, 0.625)], "ladder/ci_low": [(8, 0.25), (16, 0.5)],
                   "ladder/ci_high": [(8, 0.75), (16, 0.75)], "ladder/forecast_n": [(16, 40.0)]}


@pytest.mark.integration
def test_train_sft_reports_its_losses_to_tensorboard(micro, tmp_path):
    from dataladder.train.sft import SFTHparams, tokenize_records, train_sft

    model, tok = micro
    rows = tokenize_records(tok, [{"prompt": f"{a}+{a}=", "completion": str(2 * a)} for a in range(8)])
    run = "t/add/n=8/seed=0"
    tracking = Tracking("tensorboard", root=str(tmp_path), group="t/add")
    hp = SFTHparams(min_steps=4, max_steps=4, batch_size=4)
    with tracking.env(run):
        _, stats = train_sft(model, tok, rows, "full", None, hp, seed=0, tracking=tracking.training_kwargs(run))
    assert stats["steps"] == 4 and "TENSORBOARD_LOGGING_DIR" not in os.environ
    run_dir = tmp_path / run
    assert list(Path(run_dir).glob("events.out.tfevents.*"))
    loss = scalars(run_dir)["train/loss"]
    assert [step for step, _ in loss] == [1, 2, 3, 4] and all(v > 0 for _, v in loss)


@pytest.mark.integration
def test_climb_report_to_tensorboard_names_every_run_and_logs_the_ladder(micro_dir, tmp_path):
    """`climb --report-to tensorboard`: each training run under <study>/<ladder>/n=<n>/seed=<s>, the ladder's own
    score and interval at step n; the results are those of an untracked climb (tracking changes nothing)."""
    import json

    from typer.testing import CliRunner

    from dataladder.cli.main import app

    args = ["climb", "--model", str(micro_dir), "--skill", "add", "--start", "8", "--budget", "16", "--seeds", "1",
            "--eval-n", "8", "--eval-skill", "add", "--hp", "min_steps=4", "--hp", "max_steps=4", "--hp", "batch_size=4"]
    out = tmp_path / "study"
    r = CliRunner().invoke(app, [*args, "--report-to", "tensorboard", "--output-dir", str(out)])
    assert r.exit_code == 0, r.output
    for n in (8, 16):
        run = out / "tracking" / "study" / "add-full" / f"n={n}" / "seed=0"
        assert [s for s, _ in scalars(run)["train/loss"]] == [1, 2, 3, 4]
    doc = json.loads((out / "ladder.json").read_text())
    ladder = scalars(out / "tracking" / "study" / "add-full" / "ladder")
    assert ladder["ladder/accuracy"] == [(r["n"], pytest.approx(r["accuracy"])) for r in doc["arms"][0]["rungs"]]
    plain = tmp_path / "plain"
    assert CliRunner().invoke(app, [*args, "--output-dir", str(plain)]).exit_code == 0
    acc = lambda d: [r["correct"] for r in json.loads((d / "ladder.json").read_text())["arms"][0]["rungs"]]  # noqa: E731
    assert acc(plain) == acc(out) and not (plain / "tracking").exists()
