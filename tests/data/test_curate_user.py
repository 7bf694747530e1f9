"""curate and corrupt on user skills: code with tests, JSON with a schema, leaks raw and chat-templated."""

import json

import pytest
from jinja2 import Template
from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.data.curate import CurateConfig, curate, normalize_text
from dataladder.skills import get_skill
from tests.usermodels import CHATML, LLAMA3, write_tasks

runner = CliRunner()


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return write_tasks(tmp_path_factory.mktemp("tasks"))


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_normalize_never_touches_code():
    prog = "def f(x):\n    if x:\n        return  1\n    return 2"
    assert normalize_text(prog) == "def f(x):\n    if x:\n        return 1\n    return 2"  # indentation kept
    fenced = "Here:\n\n```python\ndef f():\n    return  'a  b'\n```\n"
    assert normalize_text(fenced) == fenced.rstrip("\n")  # a fenced block stays as written
    assert normalize_text("  19\n") == " 19"


def test_curate_keeps_every_valid_program_and_drops_every_leak(tasks, tmp_path):
    code = get_skill(f"{tasks['eval']}:code")
    train, ev = code.items("train", 100, 0), code.items("eval", 100, 0)
    recs = []
    for it in train:  # MBPP-style records: a raw prompt, the program, its asserts in `test_list`, the skill by name
        recs.append({"prompt": it.data["messages"][0]["content"], "completion": it.data["reference"],
                     "test_list": it.data["tests"], "skill": "code"})
    for it in train[:3]:  # wrong programs, refused by their own tests
        recs.append({"prompt": it.data["messages"][0]["content"] + " ", "skill": "code", "test_list": it.data["tests"],
                     "completion": it.data["reference"].replace("+", "-")})
    for i, it in enumerate(ev):  # planted leaks: raw, as messages, hand-rendered in ChatML and Llama 3
        q = it.data["messages"]
        form = i % 4
        if form == 0:
            rec = {"prompt": q[0]["content"], "completion": it.data["reference"]}
        elif form == 1:
            rec = {"messages": [*q, {"role": "assistant", "content": it.data["reference"]}]}
        else:
            tpl = CHATML if form == 2 else LLAMA3
            rec = {"prompt": Template(tpl).render(messages=[{"role": "system", "content": "You code."}, *q],
                                                  add_generation_prompt=True, bos_token="<|begin_of_text|>"),
                   "completion": it.data["reference"]}
        recs.append({**rec, "skill": "code", "test_list": it.data["tests"]})
    src = tmp_path / "code.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    cfg = CurateConfig(eval_skills=[str(tasks["eval"])], steps=["normalize", "verify", "dedup", "decontaminate"])
    stats = curate(src, tmp_path / "out", cfg)
    kept = _lines(tmp_path / "out" / "kept.jsonl")
    assert len(kept) == len(train) and all("\n    return" in r["completion"] for r in kept)
    assert stats["dropped"]["tests_failed"] == 3
    assert stats["dropped"]["eval_leak_problem"] + stats["dropped"].get("eval_leak_exact", 0) \
        + stats["dropped"].get("eval_leak_ngram", 0) == len(ev)


def test_curate_names_a_user_skill_and_says_how(tasks, tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"prompt": "q", "completion": "a", "skill": "code"}) + "\n")
    r = runner.invoke(app, ["curate", str(src), "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2 and "field 'skill'" in r.output and "--skill or --eval-skill" in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_json_records_are_verified_against_their_schema(tasks, tmp_path):
    person = get_skill(f"{tasks['eval']}:person")
    recs = [{"messages": [*it.data["messages"], {"role": "assistant", "content": it.data["reference"]}],
             "schema": it.data["schema"], "verifier": "json-schema"} for it in person.items("train", 100, 0)]
    recs[0]["messages"][-1]["content"] = recs[0]["messages"][-1]["content"].replace('"age"', '"years"')
    src = tmp_path / "p.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    stats = curate(src, tmp_path / "out", CurateConfig(steps=["normalize", "verify"]))
    assert stats["kept"] == len(recs) - 1 and sum(stats["dropped"].values()) == 1


@pytest.mark.parametrize("name", ["code", "person", "letters"])
def test_corrupt_gives_wrong_answers_of_the_right_type(tasks, tmp_path, name):
    sk = get_skill(f"{tasks['eval']}:{name}")
    recs = list(sk.records("train", 30, 0))
    src = tmp_path / "clean.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "noisy.jsonl"
    r = runner.invoke(app, ["corrupt", str(src), "--output", str(out), "--wrong-share", "0.5", "--skill",
                            f"{tasks['eval']}:{name}"])
    assert r.exit_code == 0, r.output
    noisy = [x for x in _lines(out) if "noise" in x]
    assert len(noisy) == 15
    by_prompt = {json.dumps(x["prompt"]): x for x in recs}
    for x in noisy:
        it = sk.problem_of(x["prompt"])
        assert it is not None and not sk.score(x["completion"], it).ok  # the verifier refuses it
        gold = by_prompt[json.dumps(x["prompt"])]["completion"]
        if name == "person":
            assert isinstance(json.loads(x["completion"]), dict)
        elif name == "code":
            assert x["completion"].startswith("def ") and x["completion"] != gold
        else:
            assert x["completion"].count("\n") >= gold.count("\n") - 1


def test_corrupt_a_mixed_file_each_record_by_its_own_skill(tasks, tmp_path):
    """A `messages` train file of four skills, `--skill tasks.jsonl`: records name their skill, each wrong answer
    is refused by that skill's verifier (JSON stays JSON, code stays a program)."""
    from dataladder.skills import resolve_skills

    out = tmp_path / "noisy.jsonl"
    r = runner.invoke(app, ["corrupt", str(tasks["train"]), "--output", str(out), "--wrong-share", "0.4",
                            "--skill", str(tasks["eval"])])
    assert r.exit_code == 0, r.output
    skills = {s.name: s for s in resolve_skills([str(tasks["eval"])])}
    noisy = [x for x in _lines(out) if "noise" in x]
    assert len(noisy) == 48 and {x["skill"] for x in noisy} == set(skills)
    for x in noisy:
        sk = skills[x["skill"]]
        it = sk.problem_of(x["messages"][:-1])
        assert not sk.score(x["messages"][-1]["content"], it).ok


def test_climb_train_file_drops_every_planted_eval_item_however_rendered(tasks, tmp_path):
    """The issue's case: eval items planted in a train file, raw, as messages and hand-templated, with the record
    naming the skill as the eval file does: all dropped from the pool, the train records all kept."""
    from dataladder.ladder.climb import ClimbConfig
    from dataladder.ladder.climb_pool import file_pool

    spec = f"{tasks['eval']}:code"
    code = get_skill(spec)
    ev, train = code.items("eval", 100, 0), code.items("train", 100, 0)
    recs = [{"skill": spec, "messages": [*it.data["messages"], {"role": "assistant", "content": it.data["reference"]}]}
            for it in train]
    for i, it in enumerate(ev):
        q, gold = it.data["messages"], it.data["reference"]
        recs.append([{"skill": spec, "prompt": q[0]["content"], "completion": gold},
                     {"skill": "code", "messages": [*q, {"role": "assistant", "content": gold}]},
                     {"skill": str(tasks["eval"]) + ":code", "completion": gold,
                      "prompt": Template(CHATML).render(messages=q, add_generation_prompt=True)}][i % 3])
    p = tmp_path / "train.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    pool = file_pool(ClimbConfig(models=["x"], skills=[spec], train_file=str(p)), spec, 0)
    assert len(pool) == len(train)


def test_synth_writes_trl_conversational_records_that_climb_and_curate_read(tasks, tmp_path):
    from dataladder.data.trainfile import read_train_file
    from dataladder.ladder.climb import ClimbConfig
    from dataladder.ladder.climb_pool import file_pool

    spec = f"{tasks['eval']}:letters"
    out = tmp_path / "letters.jsonl"
    r = runner.invoke(app, ["synth", "--skill", spec, "--n", "5", "--output", str(out)])
    assert r.exit_code == 0, r.output
    recs = _lines(out)
    assert all(isinstance(x["prompt"], list) and x["completion"][0]["role"] == "assistant" for x in recs)
    assert len(read_train_file(out)) == 5
    assert len(file_pool(ClimbConfig(models=["x"], skills=[spec], train_file=str(out)), spec, 0)) == 5
    c = runner.invoke(app, ["curate", str(out), "--output-dir", str(tmp_path / "c"), "--require-verified"])
    assert c.exit_code == 0 and json.loads((tmp_path / "c" / "stats.json").read_text())["kept"] == 5, c.output


def test_a_user_plan_without_skills_and_a_too_small_prefs_skill_stop_before_work(tmp_path):
    from dataladder.study.plan import load_plan
    from dataladder.ladder.prefs import PrefsConfig, check_config
    from dataladder.study.run import check_plan
    from tests.usermodels import build_model

    model = build_model("qwen", tmp_path / "m")
    plan = tmp_path / "p.yaml"
    plan.write_text(f"model: {model}\nprobe: {{n: 10}}\n")
    with pytest.raises(ValueError, match="probe.skills: name the skills"):
        check_plan(load_plan(plan))
    small = tmp_path / "s.jsonl"
    small.write_text("".join(json.dumps({"skill": "s", "split": "train", "prompt": f"q{i}", "completion": "a"}) + "\n"
                             for i in range(2)) + json.dumps({"skill": "s", "split": "eval", "prompt": "e", "completion": "a"}) + "\n")
    with pytest.raises(ValueError, match="2 train problems are too few for held-out pairs: .* needs at least 5"):
        check_config(PrefsConfig(model=str(model), skill=str(small)))
