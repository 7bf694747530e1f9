"""Where does RL's gain on tiny-arith `mul` come from? Three GRPO arms side by side, same held-out items.

    .venv/bin/python bench/bench_rl_transfer.py              # 256 steps per arm (the default budget), about 6 min
    .venv/bin/python bench/bench_rl_transfer.py --steps 64   # quicker

The eval partition is shuffled and cut in two: half B is the held-out set of every arm; half A
is used by one arm only, as RL prompts that tiny-arith never saw in pretraining (a diagnostic:
`dataladder rl` itself never trains on eval items). Arms, each with `dataladder rl`'s default
GRPO settings (8 prompts × 8 generations per step, learning rate 2e-5):

- native / train prompts: the native format, prompts from the train partition (pretraining text);
- native / unseen prompts: the native format, prompts from half A;
- exam / cold start: the exam format after `dataladder rl`'s cold start (SFT on 20 verified
  examples), prompts from the train partition.

Prints greedy accuracy (Wilson 95%) on half B before and after, the accuracy on the arm's own
first 300 RL prompts before and after, and each arm's held-out gain over the first arm's;
writes bench/out/rl_transfer.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=256, help="GRPO steps per arm")
    args = ap.parse_args()

    from dataladder.generate.hf import HFGenerator
    from dataladder.ladder.rl import RLConfig, cold_start, cold_start_items, draw_pool, eval_greedy
    from dataladder.core.store import RunStore
    from dataladder.core.logs import quiet
    from dataladder.models.hub import load_model
    from dataladder.skills import resolve_skills
    from dataladder.train.grpo import GRPOHparams, train_grpo, verifier_reward

    quiet()
    skill = resolve_skills(["mul"])[0]
    base, tok = load_model("tiny-arith")
    evals = skill.items("eval", 1500, 0)  # the whole eval partition of 2-digit mul
    random.Random(1).shuffle(evals)
    half_a, half_b = evals[: len(evals) // 2], evals[len(evals) // 2 :]
    hp = GRPOHparams()
    need = args.steps * hp.prompts_per_step
    out_dir = Path(__file__).resolve().parent / "out"
    out_dir.mkdir(exist_ok=True)

    def arm(label: str, fmt: str, pool: list, cold: bool) -> dict:
        t0 = time.perf_counter()
        model, gen = base, HFGenerator(base, tok)
        if cold:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                model, _ = cold_start(RLConfig(), RunStore(Path(tmp)), gen, skill, fmt, cold_start_items(skill, 20, 0))
            gen = gen.with_model(model)
        own = pool[:300]
        before, own_before = eval_greedy(gen, skill, half_b, fmt), eval_greedy(gen, skill, own, fmt)
        rows = [{"prompt": skill.formats[fmt].prompt(it), "answer": it.answer, "key": it.key,
                 "stop": list(skill.formats[fmt].stop)} for it in pool]
        rows = [rows[j % len(rows)] for j in range(need)]
        model, _ = train_grpo(model, tok, rows, [verifier_reward(skill)], hp, args.steps, 0, skill.max_new_tokens)
        gen = gen.with_model(model)
        after, own_after = eval_greedy(gen, skill, half_b, fmt), eval_greedy(gen, skill, own, fmt)
        r = {"arm": label, "format": fmt, "prompts": len(pool), "heldout_before": before, "heldout_after": after,
             "own_before": own_before, "own_after": own_after, "seconds": time.perf_counter() - t0}
        print(f"  {label}: held-out {before['accuracy']:.3f} → {after['accuracy']:.3f}, own prompts "
              f"{own_before['accuracy']:.3f} → {own_after['accuracy']:.3f} ({r['seconds']:.0f} s)", flush=True)
        return r

    train_pool = draw_pool(skill, need, 0)
    arms = [arm("native / train prompts", "native", train_pool, False),
            arm("native / unseen prompts", "native", half_a, False),
            arm("exam / cold start", "exam", draw_pool(skill, need, 0, frozenset(it.key for it in cold_start_items(skill, 20, 0))), True)]
    ci = lambda e: f"{e['accuracy']:.3f} [{e['ci_low']:.3f}–{e['ci_high']:.3f}]"  # noqa: E731
    gain = lambda a: a["heldout_after"]["accuracy"] - a["heldout_before"]["accuracy"]  # noqa: E731
    print(f"\n{args.steps} GRPO steps per arm ({args.steps * hp.rollouts_per_step:,} rollouts), held-out: "
          f"{len(half_b)} eval items (half B)")
    print(f"{'arm':<26}{'held-out before':>24}{'held-out after':>24}{'gain':>8}{'× arm 1':>9}{'own prompts':>18}")
    for a in arms:
        ratio = gain(a) / gain(arms[0]) if gain(arms[0]) else float("nan")
        print(f"{a['arm']:<26}{ci(a['heldout_before']):>24}{ci(a['heldout_after']):>24}{gain(a):>+8.3f}{ratio:>9.1f}"
              f"{a['own_before']['accuracy']:>9.3f} → {a['own_after']['accuracy']:.3f}")
    (out_dir / "rl_transfer.json").write_text(json.dumps({"steps": args.steps, "heldout": len(half_b), "arms": arms},
                                                         indent=1))


if __name__ == "__main__":
    main()
