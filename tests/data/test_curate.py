import json
import random
from collections import Counter

from typer.testing import CliRunner

from dataladder.cli.main import app
from dataladder.data.curate import CurateConfig, curate, normalize_text
from dataladder.skills.arithmetic import recover_item
from dataladder.data.noise import add_noise
from dataladder.skills.text import numeric_near_miss as wrong_answer
from dataladder.skills import get_skill

runner = CliRunner()


def _write(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _near_variant(rec: dict, rng: random.Random) -> dict:
    """A whitespace, punctuation, case or wording variant of a record (same problem, same answer)."""
    p = rec["prompt"]
    if p.startswith("Question:"):
        p = rng.choice([
            lambda s: s.lower(),
            lambda s: s.replace("?", " ?"),
            lambda s: s.replace("What is", "What's"),
            lambda s: s.replace("?", "?!"),
            lambda s: s.replace("Question: ", "Question:   ").replace(" plus ", "  plus "),
            lambda s: s.replace("Question:", "QUESTION:").replace("?", "."),
        ])(p)
    else:
        p = rng.choice([lambda s: " + ".join(s[:-1].split("+")) + " =", lambda s: s[:-1] + " ="])(p)
    return {**rec, "prompt": p}


def _planted_file(tmp_path):
    """Clean add/mul items in two formats, then planted exact dups, near dups, eval leaks and wrong answers."""
    rng = random.Random(0)
    add, mul = get_skill("add"), get_skill("mul")
    items = add.items("train", 700, 0)
    clean = []
    for i, it in enumerate(items[:600]):
        fmt = "exam" if i < 350 else "native"
        f = add.formats[fmt]
        clean.append({"prompt": f.prompt(it), "completion": f.completion(it), "skill": "add", "answer": it.answer})
    for it in mul.items("train", 200, 0):
        f = mul.formats["exam"]
        clean.append({"prompt": f.prompt(it), "completion": f.completion(it), "skill": "mul", "answer": it.answer})
    for r in clean[::2]:
        del r["answer"]  # half carry no answer: built-in skills recompute it from the prompt
    rng.shuffle(clean)
    for i, r in enumerate(clean):
        r["id"] = f"clean-{i}"
    planted = []  # (record, index of the clean record it must come after)
    for k in range(50):
        j = rng.randrange(len(clean))
        planted.append(({**clean[j], "id": f"dup-{k}"}, j))
    for k in range(50):
        j = rng.randrange(len(clean))
        planted.append(({**_near_variant(clean[j], rng), "id": f"near-{k}"}, j))
    evals = add.items("eval", 50, 0)
    for k, it in enumerate(evals):
        if k < 25:  # verbatim eval prompts
            rec = {"prompt": add.formats["exam"].prompt(it), "completion": f" {it.answer}", "skill": "add"}
        else:  # reformatted: native style with the operands swapped, or free wording, no skill field
            a, b = it.data["operands"]
            rec = rng.choice([{"prompt": f"{b}+{a}=", "completion": it.answer, "skill": "add"},
                              {"prompt": f"Compute {a} plus {b}.", "completion": f" {it.answer}"}])
        planted.append(({**rec, "id": f"leak-{k}"}, -1))
    for k, it in enumerate(items[600:650]):
        f = add.formats[rng.choice(["exam", "native"])]
        lead = " " if f.completion(it).startswith(" ") else ""
        rec = {"prompt": f.prompt(it), "completion": lead + wrong_answer(it.answer, rng), "skill": "add", "id": f"wrong-{k}"}
        if k % 2:
            rec["answer"] = it.answer
        planted.append((rec, -1))
    rows = list(clean)
    for rec, after in planted:  # each planted copy lands somewhere after its source
        lo = rows.index(clean[after]) + 1 if after >= 0 else 0
        rows.insert(rng.randint(lo, len(rows)), rec)
    return _write(tmp_path / "planted.jsonl", rows), rows


def test_curate_removes_each_planted_kind_and_keeps_the_clean(tmp_path):
    path, rows = _planted_file(tmp_path)
    out = tmp_path / "out"
    r = runner.invoke(app, ["curate", str(path), "--output-dir", str(out), "--eval-skill", "add", "--eval-n", "300"])
    assert r.exit_code == 0, r.output
    kept = [json.loads(x) for x in (out / "kept.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    stats = json.loads((out / "stats.json").read_text())
    kept_ids = {k["id"] for k in kept}
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row["id"].split("-")[0], []).append(row["id"])
    reasons = {x["record"]["id"]: x["reason"] for x in rejected}
    expected = {"dup": {"exact_duplicate"}, "near": {"near_duplicate", "exact_duplicate"},
                "leak": {"eval_leak_exact", "eval_leak_problem", "eval_leak_ngram"}, "wrong": {"wrong_answer"}}
    for kind, want in expected.items():
        ids = by_kind[kind]
        removed = [i for i in ids if i not in kept_ids]
        assert len(removed) / len(ids) >= 0.95, (kind, len(removed), len(ids))
        assert all(reasons[i] in want for i in removed), (kind, Counter(reasons[i] for i in removed))
    clean = by_kind["clean"]
    assert sum(i in kept_ids for i in clean) / len(clean) >= 0.99
    # stats agree with rejected.jsonl and kept.jsonl
    assert stats["dropped"] == dict(Counter(x["reason"] for x in rejected))
    assert stats["in"] == len(rows) and stats["kept"] == len(kept) and stats["rejected"] == len(rejected)
    assert sum(s["dropped"] for s in stats["steps"].values()) == len(rejected)
    assert all(x["step"] and x["line"] >= 1 for x in rejected)


def test_bad_record_stops_with_file_line_field(tmp_path):
    p = _write(tmp_path / "bad.jsonl", [{"prompt": "1+1=", "completion": "2"}, {"prompt": "2+2=", "completion": 4}])
    r = runner.invoke(app, ["curate", str(p), "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and f"{p}:2: field 'completion':" in lines[0]
    assert not (tmp_path / "out").exists()


def test_skip_bad_routes_bad_records_to_rejected(tmp_path):
    p = tmp_path / "mixed.jsonl"
    p.write_text('{"prompt": "1+1=", "completion": "2", "skill": "add"}\nnot json\n'
                 '{"instruction": "", "output": "x"}\n{"prompt": "3+4=", "completion": "7", "skill": "ad"}\n')
    stats = curate(p, tmp_path / "out", CurateConfig(skip_bad=True))
    rejected = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [(x["reason"], x["line"]) for x in rejected] == [("bad_record:json", 2), ("bad_record:instruction", 3),
                                                           ("bad_record:skill", 4)]
    assert "did you mean 'add'" in rejected[2]["detail"]
    assert stats["kept"] == 1 and stats["dropped"] == {"bad_record:json": 1, "bad_record:instruction": 1,
                                                       "bad_record:skill": 1}


def test_text_eval_set_leaks_by_ngram_overlap(tmp_path):
    evals = _write(tmp_path / "eval.json", [])
    evals.write_text(json.dumps([
        {"instruction": "Name the river that flows through the city of Vienna and into the Black Sea.", "output": "Danube"},
        {"messages": [{"role": "user", "content": "Which planet in our solar system has the longest day of all?"},
                      {"role": "assistant", "content": "Venus"}]}]))
    train = _write(tmp_path / "train.jsonl", [
        {"prompt": "name the river that flows through the city of Vienna and into the black sea", "completion": "Danube"},
        {"prompt": "Quick one: which planet in our solar system has the longest day of all? Thanks", "completion": "Venus"},
        {"prompt": "Name the river that flows through the city of Paris and into the English Channel.", "completion": "Seine"},
        {"prompt": "Which planet in our solar system has the most moons?", "completion": "Saturn"},
    ])
    stats = curate(train, tmp_path / "out", CurateConfig(eval_sets=[str(evals)]))
    rejected = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [(x["line"], x["reason"]) for x in rejected] == [(1, "eval_leak_exact"), (2, "eval_leak_ngram")]
    assert stats["kept"] == 2 and stats["unverified_kept"] == 2


def test_unverifiable_records_are_kept_or_rejected_on_request(tmp_path):
    p = _write(tmp_path / "u.jsonl", [{"prompt": "Say hi", "completion": "hi"},
                                      {"prompt": "Say yo", "completion": "yo", "verifier": "exact", "answer": "yo"},
                                      {"prompt": "Say no", "completion": "yes", "verifier": "exact", "answer": "no"}])
    stats = curate(p, tmp_path / "a")
    assert stats["kept"] == 2 and stats["unverified_kept"] == 1 and stats["dropped"] == {"mismatch": 1}
    stats = curate(p, tmp_path / "b", CurateConfig(require_verified=True))
    assert stats["kept"] == 1 and stats["dropped"] == {"mismatch": 1, "unverifiable": 1}


def test_curate_cleans_a_corrupted_copy(tmp_path):
    add = get_skill("add")
    recs = list(add.records("train", 400, seed=3, fmt="exam"))
    noisy = add_noise(recs, wrong_share=0.1, unverified_share=0.1, duplicate_share=0.1, seed=0)
    stats = curate(_write(tmp_path / "noisy.jsonl", noisy), tmp_path / "out")
    kept = [json.loads(x) for x in (tmp_path / "out" / "kept.jsonl").read_text().splitlines()]
    texts = [(r["prompt"], r["completion"]) for r in kept]
    assert len(set(texts)) == len(texts)  # a duplicate may come before its source: one of the two stays
    assert all(add.score(r["completion"], recover_item("add", r["prompt"])).ok for r in kept)
    good = {(r["prompt"], r["completion"]) for r in noisy if r.get("noise", {}).get("kind") != "wrong_answer"
            and r.get("noise", {}).get("correct", True)}
    assert set(texts) == good and stats["kept"] == len(good)
    assert stats["dropped"]["wrong_answer"] == 40 + sum(not r["noise"]["correct"] for r in noisy
                                                        if r.get("noise", {}).get("kind") == "unverified")


def test_normalize_policy():
    assert normalize_text("Ｑｕｅｓｔｉｏｎ:\t What  is 1 plus 2? \r\n\n\n\nAnswer:  \n") == "Question: What is 1 plus 2?\n\nAnswer:"
    assert normalize_text("  19\n") == " 19" and normalize_text("19") == "19"


def test_recover_item_reads_both_formats_and_refuses_other_ops():
    assert recover_item("add", "Question: What is 12 plus 7?\nAnswer:").answer == "19"
    assert recover_item("div", "Question: What is 100 divided by 7, rounded down to a whole number?\nAnswer:").answer == "14"
    assert recover_item("mixed", "3*4+5-2=").answer == "15"
    assert recover_item("add", "12*7=") is None and recover_item("sub", "no numbers") is None


def test_near_dup_needs_the_same_numbers(tmp_path):
    p = _write(tmp_path / "n.jsonl", [{"prompt": "Question: What is 12 plus 7?\nAnswer:", "completion": " 19"},
                                      {"prompt": "Question: What is 12 plus 8?\nAnswer:", "completion": " 20"},
                                      {"prompt": "question: what's 12 plus 7 ?\nAnswer:", "completion": " 19"}])
    stats = curate(p, tmp_path / "out", CurateConfig(steps=["near-dup"], near_dup_threshold=0.7))
    assert stats["kept"] == 2 and stats["dropped"] == {"near_duplicate": 1}


def test_unknown_step_did_you_mean(tmp_path):
    p = _write(tmp_path / "x.jsonl", [{"prompt": "a", "completion": "b"}])
    r = runner.invoke(app, ["curate", str(p), "--steps", "validate,dedupe", "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2 and "did you mean 'dedup'" in r.output and not (tmp_path / "o").exists()
