"""The CLI's tables stay readable in an 80-column terminal: short skill names, no '…', no line past 80."""

import io

import pytest
from rich.console import Console

import dataladder.cli.tables as tables

SPEC = "configs/real-model/tasks.jsonl"


class Printed:
    """Stands in for the module's console at `width` columns, rendering each print call to its own string."""

    def __init__(self, width: int = 80):
        self.width, self.calls = width, []

    def print(self, *args, **kw):
        c = Console(width=self.width, file=io.StringIO(), soft_wrap=True, color_system=None)
        c.print(*args, **kw)
        self.calls.append(c.file.getvalue())

    def __call__(self) -> str:
        out, self.calls = "".join(self.calls), []
        return out


@pytest.fixture
def narrow(monkeypatch):
    """The module's console at 80 columns; `narrow()` returns what was printed. The table is the first print."""
    printed = Printed(80)
    monkeypatch.setattr(tables, "console", printed)
    return printed


def check(printed: Printed) -> str:
    """The table (the first print) has no '…' and no line past 80 columns; returns everything printed."""
    table = printed.calls[0]
    assert "…" not in table, table
    assert max(len(line) for line in table.splitlines()) <= 80, table
    return printed()


def rec(skill: str, model: str = "smollm2-135m", reached: bool = False) -> dict:
    return {"model": model, "skill": skill, "target": 0.9, "verdict": "reached" if reached else "not reached",
            "stop_reason": "unreachable-within-budget", "n": 1280 if reached else None, "method": "lora",
            "lora_r": 16, "arm": "lora r=16", "accuracy": 0.4125, "ci_low": 0.3101, "ci_high": 0.5234,
            "predicted_n": {"median": 12345, "lo80": 1234, "hi80": 123456}, "p_reachable": 0.41,
            "p_reach_within_budget": 0.1, "forgetting": {"mean": -0.01, "worst": -0.12},
            "evidence": {"rungs": 6, "runs": 36, "examples_trained": 123456, "train_flops": 2.6e15, "seconds": 3601},
            "diagnosis": "partial"}


def test_recommendations_at_80_columns(narrow):
    skills = [f"{SPEC}:capital", f"{SPEC}:word-sum", f"{SPEC}:person"]
    doc = {"config": {"target": 0.9, "target_format": None, "models": ["smollm2-135m", "runs/other-base"]},
           "arms": [{"target_format": "default"}],
           "recommendations": [rec(s, m, reached=i == 0) for i, s in enumerate(skills)
                               for m in ("smollm2-135m", "runs/other-base")]}
    tables.print_recommendations(doc)
    out = check(narrow)
    assert "capital      │ reached" in out and "word-sum     │ not reached" in out
    assert not any("tasks.jsonl" in line for line in out.splitlines() if "│" in line)
    assert "capital = configs/real-model/tasks.jsonl:capital" in " ".join(out.split())  # the caption says which file
    assert "evidence for capital on smollm2-135m: 6 rungs, 36 runs" in out  # the column became a line


def test_recommendations_keep_evidence_when_wide(monkeypatch):
    monkeypatch.setattr(tables, "console", printed := Printed(140))
    tables.print_recommendations({"config": {"target": 0.9, "target_format": "exam", "models": ["tiny-arith"]},
                                  "arms": [{}], "recommendations": [rec("add", "tiny-arith")]})
    out = printed()
    assert "evidence" in out.splitlines()[2] and "0.41 [0.31–0.52]" in out and "…" not in out


def test_short_names_fall_back_to_the_spec_when_ambiguous():
    names = tables.short_skills([f"{SPEC}:capital", "other/tasks.jsonl:capital", "one.jsonl", "mul:digits=3"])
    assert names == {f"{SPEC}:capital": f"{SPEC}:capital", "other/tasks.jsonl:capital": "other/tasks.jsonl:capital",
                     "one.jsonl": "one", "mul:digits=3": "mul:digits=3"}


def acc(a: float, n: int = 100) -> dict:
    return {"accuracy": a, "ci_low": max(0.0, a - 0.1), "ci_high": min(1.0, a + 0.1), "correct": int(a * n),
            "n": n, "total": n, "margin": 0.25}


def test_prefs_at_80_columns(narrow):
    sources = ["near-miss", "corrupt", "self", "other-model"]
    rung = lambda n: {**acc(0.7), "n": n, "by_source": {s: acc(0.6) for s in sources},  # noqa: E731
                      "by_hardness": {"hard": acc(0.55), "easy": acc(0.9)}}
    doc = {"skill": f"{SPEC}:person", "config": {"target": 0.8}, "heldout": {"unseen_sources": ["self", "other-model"]},
           "base": acc(0.5), "rungs": [rung(50), rung(100), rung(3200)], "saturation": None, "fit": None,
           "stop": {"reason": "budget-exhausted"}, "reached_at": None, "seconds": 12.0}
    tables.print_prefs(doc)
    out = check(narrow)
    assert "reward model for person" in out and "other-" in out and "│    3,200 │" in out
    assert "hard / easy held-out pairs by pair count: 50: 0.550 / 0.900" in out


def test_rl_at_80_columns(narrow):
    rungs = [{**acc(0.3), "n": n * 16, "steps": n} for n in (64, 128, 256)]
    log = [{"step": s, "reward": 0.5, "frac_reward_zero_std": 0.25} for s in range(1, 257)]
    arm = lambda label: {"label": label, "rungs": rungs, "log": log}  # noqa: E731
    ev = {"accuracy": 0.3, "ci_low": 0.2, "ci_high": 0.4}
    doc = {"skill": f"{SPEC}:word-sum", "format": "default", "eval": {"n": 300}, "before": {**ev, "total": 30},
           "arms": [arm("reward model"), arm("reward model, online every 32")],
           "zero_signal": {"predicted": 0.5, "early": 0.4, "early_steps": 16, "all": 0.3, "steps": 256},
           "config": {"reward_model": "rm"}, "after": {**ev, "rollouts": 4096}, "improved": False,
           "base_formats": {"default": ev}, "after_formats": {"default": ev},
           "diversity": {"prompts": 10, "skills": 1, "near_duplicate_share": 0.0},
           "recommendation": {"target": 0.8, "verdict": "not reached", "rollouts": None, "predicted_rollouts": None,
                              "p_reachable": None, "stop_reason": "budget-exhausted"}}
    tables.print_rl(doc)
    out = check(narrow)
    assert "RL on word-sum" in out and "on 30 held-out items" in " ".join(out.split())  # the items actually scored


def test_skills_table_at_80_columns(narrow):
    from dataladder.cli.main import list_skills

    list_skills([SPEC])
    out = check(narrow)
    assert "│ capital " in out and "│ word-sum " in out
    assert f"--skill {SPEC}:<skill>" in " ".join(out.split())
    list_skills(None)  # the built-ins: prerequisites and description under the name
    out = check(narrow)
    assert "needs mul, sub" in out
