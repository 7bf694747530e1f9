"""The Ray executor on a local cluster started here on 127.0.0.1: same results as local, and a
worker killed mid-run loses nothing."""

import json
import os
import signal
import threading
import time

import pytest

from tests.ladder.test_climb import micro_config
from tests.same import assert_same as same

ray = pytest.importorskip("ray", reason="Ray is installed by ./setup.sh --test")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def lora_config(micro_dir):
    # 2 seeds × 2 LoRA ranks: four independent runs per rung
    return micro_config(micro_dir, method="lora", lora_ranks=[1, 4], seeds=2, max_examples=16, eval_skills=["add"],
                        hp={"min_steps": 6, "max_steps": 6, "batch_size": 4, "learning_rate_lora": 3e-2})


def strip(doc):
    """The results of a ladder without its timings."""
    drop = {"train_seconds", "eval_seconds", "seconds"}
    return [[{k: v for k, v in r.items() if k not in drop} for r in a["rungs"]] for a in doc["arms"]]


@pytest.fixture(scope="module")
def local_doc(micro_dir, tmp_path_factory):
    import torch

    from dataladder.ladder.climb import climb

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray worker runs: identical arithmetic, identical results
    try:
        return climb(lora_config(micro_dir), tmp_path_factory.mktemp("local"))
    finally:
        torch.set_num_threads(threads)


def run_dirs(out):
    return sorted(p.parent.name for p in (out / "runs").glob("*/done"))


def test_ray_climb_matches_local_and_runs_concurrently(cluster, micro_dir, local_doc, tmp_path):
    from dataladder.executors.ray import RayExecutor
    from dataladder.ladder.climb import climb

    ex = RayExecutor(cpus_per_run=0.5, threads_per_run=1)
    doc = climb(lora_config(micro_dir), tmp_path, executor=ex)
    assert doc["executor"] == "ray"
    same(strip(doc), strip(local_doc))
    timeless = lambda recs: [{**r, "evidence": {**r["evidence"], "seconds": None}} for r in recs]  # noqa: E731
    same(timeless(doc["recommendations"]), timeless(local_doc["recommendations"]))
    assert ex.max_concurrent == 4  # capacity 2 CPUs / 0.5 per run: a rung's four runs at once
    assert len(set(ex.pids)) == 4 and os.getpid() not in ex.pids  # runs happened in other processes
    ex.shutdown()


def test_killing_a_worker_mid_run_loses_nothing(cluster, micro_dir, local_doc, tmp_path):
    from dataladder.executors.ray import RayExecutor
    from dataladder.ladder.climb import climb

    ex = RayExecutor(cpus_per_run=0.5, threads_per_run=1)
    killed = []

    def assassin():  # SIGKILL the first worker seen busy on a rung for a moment
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline:
            for w, since in list(ex.busy.items()):
                if time.monotonic() - since > 0.3 and w < len(ex.pids):
                    os.kill(ex.pids[w], signal.SIGKILL)
                    killed.append(ex.pids[w])
                    break
            time.sleep(0.02)

    t = threading.Thread(target=assassin, daemon=True)
    t.start()
    doc = climb(lora_config(micro_dir), tmp_path, executor=ex)
    t.join(timeout=1)
    assert killed and ex.retries >= 1
    assert killed[0] not in ex.pids  # the dead worker was replaced
    same(strip(doc), strip(local_doc))  # nothing lost, nothing different
    n_runs = 1 + sum(len(a["rungs"]) * 2 for a in doc["arms"])  # base eval + rungs × seeds per arm
    assert len(run_dirs(tmp_path)) == n_runs  # every run stored once, none twice
    for d in (tmp_path / "runs").iterdir():
        assert json.loads((d / "result.json").read_text())
    ex.shutdown()


def _local(fn, *args, **kw):
    """Run a ladder locally with one torch thread, as each Ray worker does: identical arithmetic."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kw)
    finally:
        torch.set_num_threads(threads)


def scores(doc):
    return [(r["n"], r["correct"], r["total"], [s["accuracy"] for s in r["seeds"]]) for r in doc["rungs"]]


def test_every_kind_runs_on_ray_and_matches_local(cluster, micro_dir, tmp_path):
    """prefs (reward), rl and dpo take the Ray executor like climb: the same rungs, scores and stop."""
    from dataladder.executors.ray import RayExecutor
    from dataladder.ladder.dpo import DPOConfig, dpo
    from dataladder.ladder.prefs import PrefsConfig, prefs
    from dataladder.ladder.rl import RLConfig, rl

    m = str(micro_dir)
    cases = [
        (prefs, PrefsConfig(model=m, skill="add", start=8, max_pairs=16, seeds=2, heldout_n=12, n_boot=20, min_rungs=3,
                            hp={"min_steps": 4, "max_steps": 4, "batch_size": 4})),
        (dpo, DPOConfig(model=m, skill="add", format="native", start=8, max_pairs=16, seeds=2, eval_n=8, n_boot=20,
                        hp={"min_steps": 4, "max_steps": 4, "batch_size": 4})),
        (rl, RLConfig(model=m, skill="add", format="native", cold_start=0, start_steps=1, max_rollouts=2 * 16, eval_n=8,
                      check_prompts=8, check_samples=4, n_boot=20, hp={"prompts_per_step": 4, "num_generations": 4})),
    ]
    ex = RayExecutor(cpus_per_run=0.5, threads_per_run=1)
    for fn, cfg in cases:
        quiet = {"on_rung": lambda s: None} if fn is rl else {}
        here = _local(fn, cfg, tmp_path / f"{fn.__name__}-local", **quiet)
        there = fn(cfg, tmp_path / f"{fn.__name__}-ray", executor=ex, **quiet)
        assert there["executor"] == "ray" and here["executor"] == "local"
        assert scores(there) == scores(here), fn.__name__
        assert there["stop"]["reason"] == here["stop"]["reason"]
    assert os.getpid() not in ex.pids
    ex.shutdown()
