"""The ladder engine with a fake kind (no torch, no model): schedule, stop reasons, budget in stored
seconds, resume after a kill, chained rungs, and the Ray executor's retries."""

from __future__ import annotations

import math
import os

import pytest

from dataladder.ladder.engine import Job, Ladder, Rule, climb_ladders
from dataladder.forecast.stop import RungScore
from dataladder.core.store import RunStore

# ---- the fake kind: this module is its worker side (prepare, run) ----
CALLS: list[dict] = []


def prepare(spec: str, cfg: dict) -> dict:
    return {"spec": spec, "curve": cfg["curve"]}


def run(ctx: dict, job: Job) -> dict:
    """Accuracy = the curve at n (100 eval items), 25 stored seconds per run; a chained rung sees its parent."""
    rc = job.rc
    CALLS.append(rc)
    if rc.get("die_once"):  # a worker that dies mid-run, once: the first run to create the marker (atomically:
        try:                # two runs of a rung start side by side, and both may find it missing)
            os.close(os.open(rc["die_once"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    acc = ctx["curve"](rc["n"]) if callable(ctx["curve"]) else CURVES[ctx["curve"]](rc["n"])
    out = {"correct": round(100 * acc), "total": 100, "seconds": 25.0,
           "parent": job.parent["n"] if job.parent else None}
    if [rc["n"], rc["seed"]] in rc.get("unsound", []):  # a run whose training diverged, even when retried
        out.update(correct=0, soundness={"sound": False, "reason": f"loss NaN at step {rc['n'] // 10}",
                                         "retried": {"learning_rate": 0.25, "first_reason": "loss NaN at step 1"}})
    return out


CURVES = {
    "rising": lambda n: min(0.99, 0.2 + 0.2 * math.log2(n / 10)),  # 0.4 at 20, 0.6 at 40, … 0.95+ by 160
    "flat": lambda n: 0.2 if n < 40 else 0.62,  # rises once, then nothing more to gain
    "never": lambda n: 0.05,
}


class FakeLadder(Ladder):
    kind, unit = "fake", "things"

    def configs(self, n: int) -> list[dict]:
        return [{"kind": "fake", "curve": self.cfg["curve"], "n": n, "seed": s, **self.cfg.get("extra", {})}
                for s in range(self.cfg.get("seeds", 2))]

    def score(self, rc: dict, result: dict) -> tuple[int, int]:
        return result["correct"], result["total"]


@pytest.fixture(autouse=True)
def fake_kind(monkeypatch):
    from dataladder.ladder.kinds import KINDS, Kind

    monkeypatch.setitem(KINDS._items, "fake", Kind("fake", __name__, "", "", "things", "a fake kind", "fake.json"))
    from dataladder.core.results import NAMES

    monkeypatch.setitem(NAMES["kinds"], "fake", "things")  # what `register` records for the result validator
    CALLS.clear()


def ladder(curve: str, **rule) -> FakeLadder:
    r = Rule(**{"target": 0.9, "start": 20, "growth": 2.0, "budget": 2000, "min_rungs": 3, "n_boot": 50, **rule})
    return FakeLadder(curve, "fake-model", {"curve": curve}, r, RungScore(0, 10, 100))


def local():
    from dataladder.executors.local import LocalExecutor

    return LocalExecutor()


def test_schedule_and_target_reached(tmp_path):
    lad, = climb_ladders([ladder("rising")], RunStore(tmp_path), local())
    doc = lad.document()
    assert [r["n"] for r in doc["rungs"]] == [20, 40, 80, 160]  # 0.99 at 160: its Wilson bound confirms it
    assert doc["stop"]["reason"] == "target-reached" and doc["reached_at"] == 160
    assert doc["kind"] == "fake" and doc["unit"] == "things" and len(CALLS) == 8
    assert [r["forecast"] is None for r in doc["rungs"]][:3] == [True, True, False]
    assert all(r["seconds"] == 50.0 for r in doc["rungs"]) and doc["seconds"] == 200.0


def test_stop_reasons(tmp_path):
    flat, = climb_ladders([ladder("flat", min_rungs=4)], RunStore(tmp_path / "a"), local())
    assert flat.decision.reason == "diminishing-returns" and flat.rungs[-1]["n"] < 2000  # it rose, then levelled off
    assert flat.document()["saturation"]["delta"] == 0.02
    never, = climb_ladders([ladder("never", budget=160)], RunStore(tmp_path / "b"), local())
    assert never.decision.reason in ("unreachable-within-budget", "budget-exhausted", "not-improving")
    assert never.rungs[-1]["n"] <= 160
    short, = climb_ladders([ladder("never", budget=10_000, available=60, min_rungs=9)], RunStore(tmp_path / "c"),
                           local())
    assert short.decision.reason == "data-exhausted" and [r["n"] for r in short.rungs] == [20, 40]


def test_budget_is_charged_in_stored_seconds_and_a_resume_stops_where_the_first_run_did(tmp_path):
    # 2 seeds × 25 s = 50 s a rung: a 2-minute budget is spent after the third rung
    first, = climb_ladders([ladder("never", max_minutes=2, min_rungs=9)], RunStore(tmp_path), local())
    assert first.decision.reason == "budget-exhausted" and first.decision.detail["why"] == "time budget spent (stored run seconds)"
    assert [r["n"] for r in first.rungs] == [20, 40, 80]
    CALLS.clear()
    again, = climb_ladders([ladder("never", max_minutes=2, min_rungs=9)], RunStore(tmp_path), local())
    assert CALLS == [] and again.document()["rungs"] == first.document()["rungs"]


class KilledAfter:
    """An executor that dies (like a SIGKILL of the driver) after `k` finished runs."""

    name = "local"

    def __init__(self, k: int):
        self.k, self.inner = k, local()

    def set_progress(self, *a):
        pass

    def run(self, jobs):
        for i, r in self.inner.run(jobs):
            if self.k == 0:
                raise KeyboardInterrupt
            self.k -= 1
            yield i, r


def test_resume_after_a_kill_loses_and_repeats_nothing(tmp_path):
    whole, = climb_ladders([ladder("rising")], RunStore(tmp_path / "whole"), local())
    with pytest.raises(KeyboardInterrupt):
        climb_ladders([ladder("rising")], RunStore(tmp_path / "killed"), KilledAfter(5))
    CALLS.clear()
    resumed, = climb_ladders([ladder("rising")], RunStore(tmp_path / "killed"), local())
    assert len(CALLS) == 8 - 5  # the five stored runs are read, not run again
    strip = lambda d: [{k: v for k, v in r.items() if k != "run_dirs"} for r in d["rungs"]]  # noqa: E731
    assert strip(resumed.document()) == strip(whole.document())


def test_chained_rungs_get_their_parent(tmp_path):
    lad = ladder("rising")
    lad.chained = True
    lad.cfg = {"curve": "rising", "seeds": 1}
    climb_ladders([lad], RunStore(tmp_path), local())
    store = RunStore(tmp_path)
    parents = [store.get(rc)["parent"] for rc in [{"kind": "fake", "curve": "rising", "n": n, "seed": 0}
                                                  for n in (20, 40, 80)]]
    assert parents == [None, 20, 40]


@pytest.mark.integration
def test_ray_executor_retries_a_run_whose_worker_died(tmp_path):
    pytest.importorskip("ray")
    import ray

    from dataladder.executors.ray import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": os.getcwd()}})
    try:
        ex = RayExecutor(cpus_per_run=1, max_retries=2)
        lad = ladder("rising")
        lad.kind = __name__  # workers import the kind by its module's name (the driver's KINDS is patched)
        lad.cfg = {"curve": "rising", "extra": {"die_once": str(tmp_path / "died")}}
        climb_ladders([lad], RunStore(tmp_path / "store"), ex)
        assert ex.retries == 1 and lad.decision.reason == "target-reached" and lad.document()["reached_at"] == 160
    finally:
        ray.shutdown()


def test_any_kinds_document_makes_a_report_section_and_a_compare_curve(tmp_path):
    """One section and one compare reader for every kind: a fake kind's document, with an unbounded saturation."""
    import json

    from dataladder.ladder.compare import compare
    from dataladder.core.plot import pyplot, save
    from dataladder.ladder.plot import draw_ladder
    from dataladder.report.kinds import ladder_section

    lad, = climb_ladders([ladder("rising")], RunStore(tmp_path / "a"), local())
    doc = {"config": {"target": 0.9}, "skill": "toy", "metric": "toy accuracy", **lad.document()}
    doc["saturation"] = {**doc["saturation"], "median": None, "lo80": None, "hi80": None}  # never saturates
    (tmp_path / "a" / "fake.json").write_text(json.dumps(doc))
    fig, ax = pyplot().subplots()
    draw_ladder(ax, doc, "C0", "fake")
    save(fig, tmp_path / "a" / "fake.png")
    page = ladder_section(doc, tmp_path / "a" / "fake.png")
    assert "id='fake'" in page and "∞ things [80%: ∞–∞]" in page and "reached 0.9 at 160 things" in page
    got = compare(None, None, None, tmp_path / "cmp", ladders=(tmp_path / "a", tmp_path / "a" / "fake.json"))
    assert [c["kind"] for c in got["curves"]] == ["fake", "fake"] and got["curves"][0]["x_label"] == "things"
    assert [p["n"] for p in got["curves"][0]["points"]] == [20, 40, 80, 160]


# ---- every rung is a sound run, or is said not to be ----
def unsound(*pairs):
    return {"unsound": [list(p) for p in pairs]}


def test_two_unsound_rungs_in_a_row_stop_as_unstable_training_and_are_never_fitted(tmp_path):
    lad = ladder("rising")
    lad.cfg = {"curve": "rising", "extra": unsound((40, 0), (40, 1), (80, 0), (80, 1))}
    climb_ladders([lad], RunStore(tmp_path), local())
    doc = lad.document()
    assert [r["n"] for r in doc["rungs"]] == [20, 40, 80]
    assert [r.get("unsound", False) for r in doc["rungs"]] == [False, True, True]
    assert doc["rungs"][1]["reasons"] == ["loss NaN at step 4", "loss NaN at step 4"]
    assert doc["rungs"][1]["seeds"][0]["unsound"] == "loss NaN at step 4" and doc["rungs"][1]["forecast"] is None
    assert doc["stop"]["reason"] == "unstable-training"
    assert doc["stop"]["why"] == "unstable training: loss NaN at step 8" and doc["stop"]["unsound_rungs"] == [40, 80]
    assert [p[0] for p in lad.points] == [20, 20] and [s.n for s in lad.scores] == [20] and lad.fit is None
    assert doc["reached_at"] is None and doc["fit"] is None


def test_one_unsound_rung_is_left_out_and_the_ladder_goes_on(tmp_path):
    lad = ladder("rising")
    lad.cfg = {"curve": "rising", "extra": unsound((40, 0), (40, 1))}
    climb_ladders([lad], RunStore(tmp_path), local())
    assert [r["n"] for r in lad.rungs] == [20, 40, 80, 160, 320][:len(lad.rungs)]
    assert lad.rungs[1]["unsound"] and 40 not in [p[0] for p in lad.points] and 40 not in [s.n for s in lad.scores]
    assert lad.decision.reason == "target-reached" and lad.document()["reached_at"] == 160
    assert all("unsound" not in r for i, r in enumerate(lad.rungs) if i != 1)


def test_an_unsound_last_rung_is_no_budget_verdict(tmp_path):
    lad = ladder("never", budget=80, min_rungs=9)
    lad.cfg = {"curve": "never", "extra": unsound((80, 0), (80, 1))}
    climb_ladders([lad], RunStore(tmp_path), local())
    assert [r["n"] for r in lad.rungs] == [20, 40, 80]
    assert lad.decision.reason == "unstable-training" and lad.decision.detail["why"].startswith("unstable training: ")


def test_a_rung_with_some_sound_seeds_uses_only_those(tmp_path):
    lad = ladder("rising")
    lad.cfg = {"curve": "rising", "extra": unsound((40, 1))}
    climb_ladders([lad], RunStore(tmp_path), local())
    r40 = lad.rungs[1]
    assert "unsound" not in r40 and r40["total"] == 100 and r40["correct"] == 60  # seed 0 only
    assert r40["seeds"][1] == {"seed": 1, "accuracy": 0.0, "unsound": "loss NaN at step 4"}
    assert [p for p in lad.points if p[0] == 40] == [(40, 60, 100)]
    assert lad.decision.reason == "target-reached"


def test_a_result_without_soundness_counts_as_sound(tmp_path):
    lad = ladder("rising")
    assert lad.unsound({}, {"correct": 1, "total": 2}) is None
    assert lad.unsound({}, {"soundness": {"sound": True, "reason": None, "retried": None}}) is None
    assert lad.unsound({}, {"soundness": {"sound": False, "reason": "x"}}) == "x"


def test_adaptive_size_goes_to_the_forecast_median_within_four_times_and_the_budget():
    from dataladder.ladder.engine import adaptive_size

    fc = lambda m: {"n_target": {"median": m}}  # noqa: E731
    assert adaptive_size(None, 40, 80, 2000) == 80  # before the third rung: the grown size
    assert adaptive_size(fc(None), 40, 80, 2000) == 80  # unreachable
    assert adaptive_size(fc(30), 40, 80, 2000) == 80  # behind us
    assert adaptive_size(fc(55.2), 40, 80, 2000) == 56  # nearer than a doubling
    assert adaptive_size(fc(10_000), 40, 80, 2000) == 160  # at most 4× the last rung
    assert adaptive_size(fc(10_000), 40, 80, 100) == 100  # and the budget
    assert adaptive_size(fc(10_000), 100, 200, 100) == 101  # past the budget: the stop rule says budget-exhausted


def test_an_adaptive_ladder_steps_by_its_forecast_and_resumes_the_same(tmp_path):
    slow = lambda n: min(0.99, 0.3 + 0.1 * math.log2(n / 10))  # noqa: E731  0.9 near 640
    lad = ladder("slow", adaptive=True, budget=5000)
    lad.cfg = {"curve": "slow"}
    CURVES["slow"] = slow
    try:
        done, = climb_ladders([lad], RunStore(tmp_path), local())
        sizes = [r["n"] for r in done.rungs]
        assert sizes[:3] == [20, 40, 80]  # no forecast before the third rung: doubling
        steps = [b / a for a, b in zip(sizes, sizes[1:])]
        assert all(1 < s <= 4 for s in steps) and any(s != 2 for s in steps[2:]), sizes  # where the forecast said
        again = ladder("slow", adaptive=True, budget=5000)
        again.cfg = {"curve": "slow"}
        calls = len(CALLS)
        redone, = climb_ladders([again], RunStore(tmp_path), local())
        assert [r["n"] for r in redone.rungs] == sizes and len(CALLS) == calls  # the same rungs, read back
    finally:
        CURVES.pop("slow")


def test_the_driver_runs_bases_hooks_and_ladders_in_order_and_a_rerun_repeats_nothing(tmp_path):
    import json

    from dataladder.ladder.driver import drive

    seen = []
    bases = [Job("fake", "fake-model", {"curve": c}, {"kind": "fake", "curve": c, "n": 10, "seed": 0})
             for c in ("rising", "flat")]

    def ladders(d):
        seen.append(("ladders", d.prep, [b["correct"] for b in d.bases]))
        r = Rule(target=0.9, start=20, growth=2.0, budget=80, min_rungs=3, n_boot=50)
        return [FakeLadder(c, "fake-model", {"curve": c}, r, RungScore(0, b["correct"], b["total"]))
                for c, b in zip(("rising", "flat"), d.bases)]

    def written(doc, d):
        on_disk = json.loads((tmp_path / "fake.json").read_text())  # written whole before this hook
        assert sorted(on_disk) == sorted(doc) and on_disk["seconds"] == doc["seconds"]
        seen.append(("written", sorted(doc)))

    def run():
        return drive(tmp_path, bases, before=lambda d: seen.append("before") or "prep", ladders=ladders,
                     describe=lambda d: {"arms": [lad.document() for lad in d.ladders]},
                     after=lambda doc, d: {"arm_count": len(doc["arms"])}, written=written, document="fake.json",
                     plot=lambda doc, path: seen.append(("plot", path.name)), executor=local(), memory=False)

    doc = run()
    keys = ["arm_count", "arms", "executor", "seconds"]  # memory=False: no peak_memory_bytes
    assert seen == ["before", ("ladders", "prep", [20, 20]), ("plot", "fake.png"), ("written", keys)]
    assert doc["arm_count"] == 2 and doc["executor"] == "local" and [len(a["rungs"]) for a in doc["arms"]] == [3, 3]
    CALLS.clear()
    again = run()
    assert CALLS == [] and {**again, "seconds": 0} == {**doc, "seconds": 0}  # bases and rungs read from the store
