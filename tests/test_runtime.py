"""Torch threads chosen per process, the user's count when given, and the busy-machine warning."""

import pytest
import torch
from typer.testing import CliRunner

from dataladder import runtime
from dataladder.cli import app


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    monkeypatch.delenv(runtime.ENV, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_small_models_get_one_thread_large_ones_every_core(monkeypatch):
    assert runtime.choose_threads(1_000_000) == 1
    assert runtime.choose_threads(500_000_000) == runtime.usable_cores()
    monkeypatch.setenv(runtime.ENV, "3")
    assert runtime.choose_threads(1_000_000) == 3 and runtime.choose_threads(500_000_000) == 3
    monkeypatch.setenv(runtime.ENV, "zero")
    with pytest.raises(ValueError, match="DATALADDER_THREADS='zero'"):
        runtime.choose_threads(10)


def test_loading_the_shipped_model_pins_one_thread():
    from dataladder.models.hub import load_model

    torch.set_num_threads(2)
    load_model("tiny-arith")
    assert torch.get_num_threads() == 1


def test_threads_option_and_plan_key(monkeypatch, tmp_path):
    from dataladder.config import load_plan

    r = CliRunner().invoke(app, ["--threads", "0", "skills"])
    assert r.exit_code == 2 and "option --threads 0" in r.output
    p = tmp_path / "plan.yaml"
    p.write_text("threads: 0\n")
    with pytest.raises(Exception, match="threads"):
        load_plan(p)
    p.write_text("threads: 3\n")
    assert load_plan(p).threads == 3


def test_busy_machine_warning(monkeypatch):
    cores = runtime.usable_cores()
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (cores + 2.0, 0.0, 0.0))
    w = runtime.load_warning()
    assert w.startswith("warning: this machine is busy") and f"on {cores} cores" in w and "\n" not in w
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (cores - 0.5, 0.0, 0.0))
    assert runtime.load_warning() is None
