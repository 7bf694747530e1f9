"""Benchmark `dataladder curate`: 100k records through every step, and MinHash LSH against exact pairwise Jaccard.

    .venv/bin/python bench/bench_curate.py            # --n 100000 --subset 2000

Part 1 builds a file of arithmetic records (add, sub, mul with up to 3-digit operands, exam and
native formats; 10% of them planted noise: exact duplicates, near duplicates, eval-partition
leaks and wrong answers, 2.5% each), runs the whole pipeline and prints records/s, per-step
seconds and the recall of each planted kind. Part 2 runs the near-dup step's MinHash LSH and an
exact pairwise Jaccard scan (same shingles, same threshold, same keep-first rule) on a subset
and reports time, ratio and agreement. Writes bench/out/curate.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dataladder.data.curate import CurateConfig, Doc, curate  # noqa: E402
from dataladder.data.dedup import MinHasher, _NUM, jaccard, near_dedup, signature  # noqa: E402
from dataladder.skills.text import numeric_near_miss as wrong_answer  # noqa: E402
from dataladder.skills import get_skill  # noqa: E402

DIGITS = 3
VARIANTS = [lambda s: s.lower(), lambda s: s.replace("?", " ?"), lambda s: s.replace("What is", "What's"),
            lambda s: s.replace("?", "?!"), lambda s: s.replace("Question:", "QUESTION:").replace("?", ".")]


def near_variant(rec: dict, rng: random.Random) -> dict:
    p = rec["prompt"]
    if p.startswith("Question:"):
        p = rng.choice(VARIANTS)(p)
    else:
        p = p[:-1].replace("+", " + ").replace("-", " - ").replace("*", " * ") + " ="
    return {**rec, "prompt": p}


def build(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    share = {"add": 0.45, "sub": 0.3, "mul": 0.25}
    n_plant = n // 40
    n_clean = n - 4 * n_plant
    clean, spare = [], []
    for name, s in share.items():
        sk = get_skill(name, digits=DIGITS)
        k = round(s * n_clean) if name != "mul" else n_clean - len(clean)
        items = sk.items("train", k + n_plant, seed)
        for i, it in enumerate(items):
            f = sk.formats[rng.choice(["exam", "native"])]
            rec = {"prompt": f.prompt(it), "completion": f.completion(it), "skill": name, "answer": it.answer}
            (clean if i < k else spare).append(rec)
    rng.shuffle(clean)
    for i, r in enumerate(clean):
        r["id"] = f"clean-{i}"
    rows = list(clean)
    planted = []
    for k in range(n_plant):
        planted.append(({**rng.choice(clean), "id": f"dup-{k}"}, True))
        planted.append(({**near_variant(rng.choice(clean), rng), "id": f"near-{k}"}, True))
    evals = {name: get_skill(name, digits=DIGITS).items("eval", n_plant // 3 + 1, seed) for name in share}
    for k in range(n_plant):
        name = list(share)[k % 3]
        sk, it = get_skill(name, digits=DIGITS), evals[name][k // 3]
        f = sk.formats[rng.choice(["exam", "native"])]
        planted.append(({"prompt": f.prompt(it), "completion": f.completion(it), "skill": name, "id": f"leak-{k}"}, False))
    rng.shuffle(spare)
    for k, r in enumerate(spare[:n_plant]):
        lead = " " if r["completion"].startswith(" ") else ""
        planted.append(({**r, "completion": lead + wrong_answer(r["answer"], rng), "id": f"wrong-{k}"}, False))
    # copies go after their source: append them in random order at the end
    rng.shuffle(planted)
    rows.extend(rec for rec, _ in planted)
    return rows


def pipeline(rows: list[dict], tmp: Path) -> dict:
    path = tmp / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = CurateConfig(eval_skills=[f"{n}:digits={DIGITS}" for n in ("add", "sub", "mul")])
    t = time.perf_counter()
    stats = curate(path, tmp / "out", cfg)
    wall = time.perf_counter() - t
    kept = {json.loads(x)["id"] for x in (tmp / "out" / "kept.jsonl").read_text().splitlines()}
    kinds: dict[str, list[str]] = {}
    for r in rows:
        kinds.setdefault(r["id"].split("-")[0], []).append(r["id"])
    removed = {k: sum(i not in kept for i in ids) / len(ids) for k, ids in kinds.items()}
    return {"records": len(rows), "wall_seconds": round(wall, 2), "records_per_second": round(len(rows) / wall, 1),
            "steps": stats["steps"], "dropped": stats["dropped"], "kept": stats["kept"],
            "recall": {k: round(v, 4) for k, v in removed.items() if k != "clean"},
            "clean_kept": round(1 - removed["clean"], 4)}


def lsh_vs_exact(rows: list[dict], threshold: float) -> dict:
    cfg = CurateConfig(near_dup_threshold=threshold)
    docs = [Doc(r, i + 1) for i, r in enumerate(rows)]
    flagged_lsh: set[int] = set()
    t = time.perf_counter()
    for _ in near_dedup(iter(docs), lambda d, *a, **k: flagged_lsh.add(d.line), cfg):
        pass
    t_lsh = time.perf_counter() - t

    hasher = MinHasher(cfg.num_perm, cfg.shingle)
    t = time.perf_counter()
    texts = [signature(d.prompt + " " + d.completion) for d in docs]
    sets = [hasher.shingles(s) for s in texts]
    nums = [tuple(_NUM.findall(s)) for s in texts]
    flagged_exact: set[int] = set()
    kept: list[int] = []
    pairs = 0
    for i in range(len(docs)):
        hit = False
        for j in kept:  # every pair: Jaccard first, then the same-numbers rule, as the step confirms
            pairs += 1
            if jaccard(sets[j], sets[i]) >= threshold and nums[j] == nums[i]:
                hit = True
                break
        if hit:
            flagged_exact.add(docs[i].line)
        else:
            kept.append(i)
    t_exact = time.perf_counter() - t
    both = flagged_lsh & flagged_exact
    return {"records": len(rows), "threshold": threshold, "lsh_seconds": round(t_lsh, 3),
            "exact_seconds": round(t_exact, 3), "exact_over_lsh": round(t_exact / t_lsh, 1), "exact_pairs": pairs,
            "flagged_lsh": len(flagged_lsh), "flagged_exact": len(flagged_exact), "flagged_both": len(both),
            "lsh_recall_vs_exact": round(len(both) / len(flagged_exact), 4) if flagged_exact else None,
            "lsh_precision_vs_exact": round(len(both) / len(flagged_lsh), 4) if flagged_lsh else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--subset", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "curate.json")
    args = ap.parse_args()
    rows = build(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        full = pipeline(rows, Path(tmp))
    print(f"pipeline: {full['records']:,} records in {full['wall_seconds']} s ({full['records_per_second']:,.0f} records/s)")
    for name, s in full["steps"].items():
        print(f"  {name:<14} {s['seconds']:>8.2f} s   dropped {s['dropped']:,}")
    print(f"  recall per planted kind {full['recall']}; clean kept {full['clean_kept']}")
    # the subset: clean records and near variants of some of them, so there are pairs to find
    rng = random.Random(1)
    clean = [r for r in rows if r["id"].startswith("clean")][: int(args.subset * 0.8)]
    subset = clean + [near_variant(r, rng) for r in rng.sample(clean, args.subset - len(clean))]
    cmp = lsh_vs_exact(subset, 0.8)
    print(f"near-dup on {cmp['records']:,}: LSH {cmp['lsh_seconds']} s, exact pairwise {cmp['exact_seconds']} s "
          f"({cmp['exact_over_lsh']}x, {cmp['exact_pairs']:,} pairs); flagged LSH {cmp['flagged_lsh']}, exact "
          f"{cmp['flagged_exact']}, both {cmp['flagged_both']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"pipeline": full, "near_dup_lsh_vs_exact": cmp,
                                    "note": "measured under contention (shared 2-core machine)"}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
