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
