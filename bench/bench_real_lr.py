"""LoRA and full fine-tuning rates on a real pretrained model: what backs train/sizing.py's 30M–300M column.

    .venv/bin/python bench/bench_real_lr.py                      # the default grid, SmolLM2-135M (./setup.sh --real)
    .venv/bin/python bench/bench_real_lr.py lora:2e-4:10 full:2e-5:10 --model smollm2-135m --n 10

Each arm (`method:learning_rate:steps`) trains a copy of the base on the first `--n` train items of the capital
skill (configs/real-model/tasks.jsonl: the city in <city></city> tags, which the model knows but does not write)
for exactly `steps` steps of 8 (LoRA r=8), then scores 20 held-out items of capital, person (pretty JSON, not
trained on: forgetting) and word-sum, side by side in one process. Prints one JSON line per arm and each
arm's capital accuracy as a ratio of the best arm's.
"""

import argparse
import json
import time
from pathlib import Path

TASKS = Path(__file__).resolve().parents[1] / "configs" / "real-model" / "tasks.jsonl"
GRID = ["lora:2e-4:10", "lora:2e-4:20", "lora:5e-4:10", "lora:1e-3:10", "lora:4e-3:10", "full:2e-5:10"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("arms", nargs="*", default=GRID)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=10, help="training examples")
    ap.add_argument("--eval-n", type=int, default=20)
    a = ap.parse_args()

    from dataladder.generate.hf import HFGenerator
    from dataladder.models.hub import load_model
    from dataladder.evals.probe import score_formats
    from dataladder.skills import resolve_skills
    from dataladder.train.sft import SFTHparams, tokenize_records, train_sft

    model, tok = load_model(a.model)
    gen = HFGenerator(model, tok)
    skills = {s.name: s for s in resolve_skills([str(TASKS)])}
    evals = {n: (skills[n], skills[n].items("eval", a.eval_n, 0)) for n in ("capital", "person", "word-sum")}
    cap = skills["capital"]
    rows = tokenize_records(tok, [cap.example("default", it) for it in cap.items("train", a.n, 0)], gen.policy)

    def score(g) -> dict:
        return {n: score_formats(g, s, items, ["default"])[0]["default"]["accuracy"] for n, (s, items) in evals.items()}

    out = [{"arm": "base", **score(gen)}]
    print(json.dumps(out[0]), flush=True)
    for arm in a.arms:
        method, lr, steps = arm.split(":")
        lr, steps = float(lr), int(steps)
        hp = SFTHparams(learning_rate_full=lr, learning_rate_lora=lr, min_steps=steps, max_steps=steps, batch_size=8)
        t0 = time.perf_counter()
        m, st = train_sft(model, tok, rows, method, 8 if method == "lora" else None, hp, 0)
        res = {"arm": arm, "loss": [round(st["first_loss"], 3), round(st["last_loss"], 3)], **score(gen.with_model(m)),
               "seconds": round(time.perf_counter() - t0, 1)}
        out.append(res)
        print(json.dumps(res), flush=True)
    best = max(r["capital"] for r in out) or 1.0
    for r in out:
        print(f"{r['arm']:>14}  capital {r['capital']:.2f} ({r['capital'] / best:.2f}× the best)  "
              f"person {r['person']:.2f}  word-sum {r['word-sum']:.2f}")


if __name__ == "__main__":
    main()
