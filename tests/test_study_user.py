"""The README's "Study your own model" plan (configs/examples/your-model.yaml), run whole on a user-style model:
probe → climb (full and LoRA) → curated vs noisy → prefs → rl → compare → report, on JSONL skills only."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataladder.cli.main import app

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "configs" / "examples"


def test_the_example_tasks_are_the_test_tasks(tmp_path):
    """The committed example files are exactly what the tests run (write_tasks), so they cannot drift."""
    from tests.usermodels import write_tasks

    fresh = write_tasks(tmp_path)
    assert (EXAMPLES / "tasks.jsonl").read_text() == fresh["eval"].read_text()
    assert (EXAMPLES / "train.jsonl").read_text() == fresh["train"].read_text()


def test_the_example_plan_names_its_skills_and_a_user_plan_must(tmp_path):
    from dataladder.study.plan import load_plan
    from dataladder.core.errors import InputError

    plan = load_plan(EXAMPLES / "your-model.yaml")
    assert plan.model == "path/to/your/model" and plan.prefs.skill.endswith("tasks.jsonl:code")
    bad = tmp_path / "p.yaml"
    bad.write_text("model: some/dir\nprefs: {start: 8}\n")
    with pytest.raises(InputError, match=r"field 'prefs.skill': name the skill"):
        load_plan(bad)


SMALL = [
    "probe.n=10",
    *[f"climbs.{i}.{k}" for i in (0, 1) for k in (
        "start=10", "max_examples=20", "seeds=1", "eval_n=10", "n_boot=20", "min_rungs=2",
        "hp.min_steps=20", "hp.max_steps=20", "hp.batch_size=4")],
    "climbs.1.lora_ranks=[4]",
    "curated_vs_noisy.start=10", "curated_vs_noisy.curated_max=20", "curated_vs_noisy.noisy_max=30",
    "curated_vs_noisy.seeds=1", "curated_vs_noisy.eval_n=10",
    "prefs.start=8", "prefs.max_pairs=16", "prefs.heldout_n=6", "prefs.seeds=1", "prefs.min_rungs=2",
    "prefs.min_pairs=8", "prefs.n_boot=20", "prefs.hp.min_steps=4", "prefs.hp.max_steps=4", "prefs.hp.batch_size=4",
    "rl.start_steps=1", "rl.max_rollouts=64", "rl.eval_n=10", "rl.check_prompts=8", "rl.check_samples=4",
    "rl.n_boot=20", "rl.min_rungs=2", "rl.hp.prompts_per_step=4", "rl.hp.num_generations=4",
    "dpo.start=8", "dpo.max_pairs=16", "dpo.seeds=1", "dpo.eval_n=10", "dpo.n_boot=20", "dpo.min_rungs=2",
    "dpo.hp.min_steps=4", "dpo.hp.max_steps=4", "dpo.hp.batch_size=4",
    "rm_policy.steps=1", "rm_policy.eval_n=10", "rm_policy.n_boot=20",
    "rm_policy.hp.prompts_per_step=4", "rm_policy.hp.num_generations=4",
]


@pytest.mark.integration
@pytest.mark.parametrize("trained_user_model_dir", ["qwen"], indirect=True)
def test_the_example_plan_runs_whole_on_a_user_model(trained_user_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the plan names its files relative to the repository, as the README runs it
    out = tmp_path / "study"
    r = CliRunner().invoke(app, ["run", str(EXAMPLES / "your-model.yaml"), f"model={trained_user_model_dir}",
                                 f"output_dir={out}", *SMALL])
    assert r.exit_code == 0, r.output
    probe = json.loads((out / "probe" / "probe.json").read_text())
    assert set(probe["skills"]) == {"letters", "code", "person", "reverse"}
    assert all(f["n"] == 10 for s in probe["skills"].values() for f in s["formats"].values())
    assert "add" not in r.output.split("probe")[0]  # no arithmetic anywhere: a user model is not tiny-arith
    full = json.loads((out / "climbs" / "code-full" / "ladder.json").read_text())
    arm = full["arms"][0]
    assert [x["n"] for x in arm["rungs"]] == [10, 20]
    forgetting = arm["rungs"][-1]["forgetting"]  # the user's other skills, no arithmetic
    assert {k.rsplit("/", 1)[0].rsplit(":", 1)[1] for k in forgetting} == {"letters", "person", "reverse"}
    lora = json.loads((out / "climbs" / "code-lora" / "ladder.json").read_text())
    assert [a["lora_r"] for a in lora["arms"]] == [4]
    noise = json.loads((out / "noise" / "summary.json").read_text())
    assert noise["noisy_items"] == 30 and noise["injected_wrong"] == 9
    from dataladder.skills import get_skill

    person = get_skill(str(EXAMPLES / "tasks.jsonl") + ":person")
    noisy = [json.loads(x) for x in (out / "noise" / "noisy.jsonl").read_text().splitlines()]
    for rec in (x for x in noisy if "noise" in x):
        it = person.problem_of(rec["prompt"])
        assert isinstance(json.loads(rec["completion"]), dict) and not person.score(rec["completion"], it).ok
    prefs = json.loads((out / "prefs" / "prefs.json").read_text())
    assert [r["n"] for r in prefs["rungs"]] == [8, 16] and prefs["heldout"]["pairs"]["near-miss"] > 0
    assert prefs["heldout"]["hard"] > 0  # one-edit programs are hard negatives, not numbers
    rl = json.loads((out / "rl" / "rl.json").read_text())
    assert rl["diversity"]["features"]["answer_lines"]  # the skill's own difficulty buckets, not operand digits
    dpo = json.loads((out / "dpo" / "dpo.json").read_text())
    assert dpo["unit"] == "pairs" and [r["n"] for r in dpo["rungs"]] == [8, 16] and dpo["format"] in dpo["base_formats"]
    assert set(dpo["base_formats"]) == set(dpo["rungs"][0]["forgetting"]) | {dpo["format"]}
    rmp = json.loads((out / "rm-policy" / "rm-policy.json").read_text())
    assert [r["n"] for r in rmp["rungs"]] == [8, 16] and rmp["verifier_ceiling"]["total"] == 10
    assert [r["reward_model_heldout_accuracy"] for r in rmp["rungs"]] == [r["seeds"][0]["accuracy"] for r in prefs["rungs"]]
    kinds = [c["kind"] for c in json.loads((out / "compare" / "compare.json").read_text())["curves"]]
    assert kinds == ["supervised examples", "DPO pairs", "preference pairs", "rollouts", "reward-model pairs → policy"]
    page = (out / "report.html").read_text()
    for anchor in ("profile", "ladders", "noise", "prefs", "rl", "dpo", "rm-policy"):
        assert f"id='{anchor}'" in page, anchor


@pytest.mark.integration
@pytest.mark.parametrize("trained_user_model_dir", ["qwen"], indirect=True)
def test_synth_self_on_a_code_skill_writes_programs_its_tests_pass(trained_user_model_dir, tmp_path):
    """Rejection sampling against the skill's own verifier: the model's programs that pass their tests are
    written as sampled, with their tests, and curate (verify) keeps every one of them."""
    spec = f"{EXAMPLES / 'tasks.jsonl'}:code"
    out = tmp_path / "code.jsonl"
    r = CliRunner().invoke(app, ["synth", "--skill", spec, "--source", "self", "--model", str(trained_user_model_dir),
                                 "--n", "5", "--k", "2", "--output", str(out)])
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 5 and all(x["tests"] and x["completion"][0]["content"].startswith("def ") for x in recs)
    assert all(x["completion"][0]["content"] == x["provenance"]["sampled"] for x in recs)  # the model's own program
    c = CliRunner().invoke(app, ["curate", str(out), "--output-dir", str(tmp_path / "c"), "--require-verified",
                                 "--eval-skill", str(EXAMPLES / "tasks.jsonl")])
    assert c.exit_code == 0, c.output
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["kept"] == 5
