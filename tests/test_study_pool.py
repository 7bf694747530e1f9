"""Steps side by side: which steps wait for which, and when a study runs them at once (no model is loaded)."""

from dataladder.study.plan import Plan
from dataladder.study.pool import default_parallel, plan_steps


def _plan(**kw) -> Plan:
    return Plan.model_validate({"climbs": [{"name": "a"}, {"name": "b", "method": "lora"}],
                                "curated_vs_noisy": {}, "prefs": {}, "rl": {}, "dpo": {}, "rm_policy": {},
                                "compare": {"climb": "a"}, **kw})


def test_steps_wait_only_for_what_they_read():
    steps = dict(plan_steps(_plan()))
    assert list(steps) == ["probe", "climb a", "climb b", "noise", "prefs", "rl", "dpo", "rm-policy", "compare"]
    assert steps["rm-policy"] == ("prefs",)  # reads the prefs run store's reward models
    assert set(steps["compare"]) == set(steps) - {"probe", "compare"}
    assert all(steps[n] == () for n in ("probe", "climb a", "climb b", "noise", "prefs", "rl", "dpo"))
    external = dict(plan_steps(_plan(rm_policy={"prefs": "elsewhere/prefs"}, prefs=None)))
    assert external["rm-policy"] == () and "prefs" not in external


def test_default_parallel_follows_model_executor_and_machine(tmp_path, monkeypatch):
    import dataladder.study.pool as pool

    monkeypatch.setattr(pool, "usable_cores", lambda: 2)
    monkeypatch.setattr(pool, "free_memory", lambda: 64 * 2**30)
    n, why = default_parallel(_plan())
    assert n == 3 and "small models" in why  # the shipped 1M-parameter model on a CPU
    assert default_parallel(_plan(), idle=2.0)[0] == 3 and default_parallel(_plan(), idle=0.1)[0] == 5  # busy: more
    monkeypatch.setattr(pool, "free_memory", lambda: 5 * 2**30)
    n, why = default_parallel(_plan(), idle=0.0)
    assert n == 2 and "free memory" in why
    assert default_parallel(_plan(executor={"kind": "ray"}))[0] == 1
    big = tmp_path / "big"
    big.mkdir()
    (big / "config.json").write_text("{}")
    with open(big / "model.safetensors", "wb") as f:
        f.truncate(200_000_000)  # 50M fp32 parameters, sparse on disk
    assert default_parallel(_plan(model=str(big)))[0] == 1
    assert default_parallel(_plan(model="org/some-hub-model"))[0] == 1
    assert default_parallel(_plan(climbs=[{"name": "a", "models": [str(big)]}], compare=None))[0] == 1


def test_a_failing_step_raises_its_own_error_and_stops_what_waits_for_it(tmp_path):
    """In its own process (spawned: nothing shared), a step's error reaches the caller as it was raised there,
    before any model is loaded; the step that waits for it never starts."""
    import pytest

    from dataladder.core.errors import InputError
    from dataladder.study.run import Hooks, run_step
    from dataladder.study.pool import run_steps_parallel

    plan = Plan.model_validate({"output_dir": str(tmp_path / "out"), "rm_policy": {"prefs": str(tmp_path / "none")},
                                "compare": {"climbs": []}})
    with pytest.raises(InputError) as here:
        run_step("rm-policy", plan, tmp_path / "out", Hooks(), None)
    seen = []
    with pytest.raises(InputError) as there:
        run_steps_parallel(plan, tmp_path / "out", Hooks(step=seen.append, finished=lambda *a: seen.append(a)),
                           [("rm-policy", ()), ("compare", ("rm-policy",))], workers=2)
    assert str(there.value) == str(here.value) and "prefs.json" in str(there.value)
    assert [m for m in seen if isinstance(m, str) and m.startswith("compare")] == []  # never started
    assert not any(isinstance(m, tuple) for m in seen) and not (tmp_path / "out" / "compare").exists()
