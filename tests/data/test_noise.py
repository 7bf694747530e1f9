from dataladder.data.noise import corrupt
from dataladder.skills import get_skill


def test_corrupt_injects_exactly_the_share_and_records_it():
    sk = get_skill("add")
    recs = list(sk.records("train", 500, seed=0, fmt="exam"))
    items = sk.items("train", 500, 0)
    noisy = corrupt(recs, 0.3, seed=1)
    marked = [r for r in noisy if "noise" in r]
    assert len(marked) == 150 and len(noisy) == 500
    for r, it in zip(noisy, items):
        ok = sk.score(r["completion"], it).ok
        assert ok == ("noise" not in r)  # exactly the marked items are wrong
        assert r["prompt"] == sk.formats["exam"].prompt(it)
    assert corrupt(recs, 0.3, seed=1) == noisy and corrupt(recs, 0.0, seed=1) == recs


def test_add_noise_kinds_are_disjoint_exact_and_marked():
    import json as _json

    from dataladder.data.noise import add_noise, noise_counts

    sk = get_skill("add")
    recs = list(sk.records("train", 400, seed=0, fmt="exam"))
    items = sk.items("train", 400, 0)
    noisy = add_noise(recs, wrong_share=0.1, unverified_share=0.2, duplicate_share=0.05, seed=2)
    assert noise_counts(noisy) == {"clean": 260, "wrong_answer": 40, "unverified": 80, "duplicate": 20}
    # the wrong-answer items are exactly corrupt()'s, so existing experiments keep their data
    assert [r for r in noisy if r.get("noise", {}).get("kind") == "wrong_answer"] == \
        [r for r in corrupt(recs, 0.1, seed=2) if "noise" in r]
    for r, it in zip(noisy, items):
        kind = r.get("noise", {}).get("kind")
        if kind == "unverified":
            assert "answer" not in r and sk.score(r["completion"], it).ok == r["noise"]["correct"]
        elif kind == "duplicate":
            src = noisy[r["noise"]["of"]]
            assert "noise" not in src and (r["prompt"], r["completion"]) == (src["prompt"], src["completion"])
    assert 20 <= sum(r["noise"]["correct"] for r in noisy if r.get("noise", {}).get("kind") == "unverified") <= 60
    assert _json.dumps(add_noise(recs, 0.1, 0.2, 0.05, seed=2)) == _json.dumps(noisy)


def test_add_noise_rejects_impossible_shares():
    import pytest

    from dataladder.data.noise import add_noise

    recs = list(get_skill("add").records("train", 10, seed=0, fmt="exam"))
    with pytest.raises(ValueError, match="more than the 10 records"):
        add_noise(recs, wrong_share=0.6, unverified_share=0.6)


def test_corrupt_cli_writes_marked_copy_and_prints_counts(tmp_path):
    import json as _json

    from typer.testing import CliRunner

    from dataladder.cli.main import app

    src = tmp_path / "in.jsonl"
    src.write_text("".join(_json.dumps(r) + "\n" for r in get_skill("add").records("train", 100, seed=0, fmt="native")))
    out = tmp_path / "noisy.jsonl"
    r = CliRunner().invoke(app, ["corrupt", str(src), "--output", str(out), "--wrong-share", "0.3",
                                 "--duplicate-share", "0.1", "--seed", "1"])
    assert r.exit_code == 0, r.output
    rows = [_json.loads(x) for x in out.read_text().splitlines()]
    kinds = [x["noise"]["kind"] for x in rows if "noise" in x]
    assert len(rows) == 100 and kinds.count("wrong_answer") == 30 and kinds.count("duplicate") == 10
    assert "wrong_answer" in r.output and "30" in r.output
    r = CliRunner().invoke(app, ["corrupt", str(src), "--output", str(out), "--wrong-share", "1.5"])
    assert r.exit_code == 2 and "--wrong-share" in r.output
