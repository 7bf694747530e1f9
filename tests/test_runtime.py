"""Torch threads chosen per process, the user's count when given, and the busy-machine warning."""

import pytest
import torch
from typer.testing import CliRunner

from dataladder.core import runtime
from dataladder.cli.main import app

_REAL_LOAD_WARNING = runtime.load_warning  # conftest silences it for every other test


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    monkeypatch.delenv(runtime.ENV, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_small_models_get_the_idle_cores_large_ones_every_core(monkeypatch):
    cores = runtime.usable_cores()
    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: 0.1)  # a busy machine
    assert runtime.choose_threads(1_000_000) == 1
    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: float(cores))  # a quiet one
    assert runtime.choose_threads(1_000_000) == cores
    assert runtime.choose_threads(500_000_000) == cores
    monkeypatch.setenv(runtime.ENV, "3")
    assert runtime.choose_threads(1_000_000) == 3 and runtime.choose_threads(500_000_000) == 3
    monkeypatch.setenv(runtime.ENV, "zero")
    with pytest.raises(ValueError, match="DATALADDER_THREADS='zero'"):
        runtime.choose_threads(10)


def test_loading_the_shipped_model_on_a_busy_machine_pins_one_thread(monkeypatch):
    from dataladder.models.hub import load_model

    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: 0.0)
    torch.set_num_threads(2)
    load_model("tiny-arith")
    assert torch.get_num_threads() == 1


def test_idle_cores_reads_the_machine():
    idle = runtime.idle_cores(0.05)
    assert idle is None or 0.0 <= idle <= (__import__("os").cpu_count() or 1) + 1e-9


def test_threads_option_and_plan_key(monkeypatch, tmp_path):
    from dataladder.study.plan import load_plan

    r = CliRunner().invoke(app, ["--threads", "0", "skills"])
    assert r.exit_code == 2 and "option --threads 0" in r.output
    p = tmp_path / "plan.yaml"
    p.write_text("threads: 0\n")
    with pytest.raises(Exception, match="threads"):
        load_plan(p)
    p.write_text("threads: 3\n")
    assert load_plan(p).threads == 3


def test_busy_machine_warning(monkeypatch):
    monkeypatch.setattr(runtime, "load_warning", _REAL_LOAD_WARNING)
    cores = runtime.usable_cores()
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (cores + 0.5, 0.0, 0.0))  # this process counts in the load
    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: float(cores))
    assert runtime.load_warning() is None
    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: 0.1)  # every core busy with other work
    w = runtime.load_warning()
    assert w.startswith("warning: this machine is busy") and f"of {cores} cores" in w and "\n" not in w
    monkeypatch.setattr(runtime, "idle_cores", lambda interval=0.2: None)  # no /proc/stat: the load average
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (cores + 2.0, 0.0, 0.0))
    assert runtime.load_warning() is not None


def test_scratch_dirs_of_killed_processes_are_swept(tmp_path, monkeypatch):
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a process that is gone: its scratch directory is stale
    stale = tmp_path / f"dataladder-sft-{p.pid}-abc"
    (stale / "sub").mkdir(parents=True)
    mine = tmp_path / "dataladder-sft-1-live"  # pid 1 is alive: never swept
    mine.mkdir()
    with runtime.scratch_dir("sft") as d:
        assert d.startswith(str(tmp_path / "dataladder-sft-")) and not stale.exists() and mine.exists()
    assert not any(x.name.startswith(f"dataladder-sft-{__import__('os').getpid()}") for x in tmp_path.iterdir())
