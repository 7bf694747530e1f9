"""Benchmark: the same eval items through `dataladder probe` and through lm-evaluation-harness.

    .venv/bin/python bench/bench_probe.py [--model tiny-arith] [--n 300]

Both sides get the same prompts (the shipped model's eval items for add, mul, div in the
native and exam formats), greedy decoding up to the first newline, batch size 128, on CPU.
Both sides' completions are scored by the same numeric verifier, so the accuracies compare
the generations themselves. Wall times include model loading on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dataladder.models.hub import load_model, resolve_model  # noqa: E402
from dataladder.generate.hf import HFGenerator  # noqa: E402
from dataladder.evals.probe import probe  # noqa: E402
from dataladder.skills import get_skill  # noqa: E402
from dataladder.verify import get_verifier  # noqa: E402

SKILLS = ["add", "mul", "div"]
TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{answer}}}}"
target_delimiter: ""
generation_kwargs:
  until: ["\\n"]
  do_sample: false
  max_gen_toks: {max_new}
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


def run_lm_eval(model_path: str, items: dict, workdir: Path, batch_size: int) -> tuple[dict, float]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    tasks = []
    for (skill, fmt), rows in items.items():
        task = f"dl_{skill}_{fmt}"
        data = workdir / f"{task}.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        (workdir / f"{task}.yaml").write_text(TASK_YAML.format(task=task, data=data, max_new=get_skill(skill).max_new_tokens))
        tasks.append(task)
    t0 = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_path},dtype=float32,device=cpu", tasks=tasks,
        task_manager=TaskManager(include_path=str(workdir)), batch_size=batch_size, log_samples=True,
    )
    seconds = time.perf_counter() - t0
    numeric = get_verifier("numeric")
    acc = {}
    for (skill, fmt) in items:
        samples = out["samples"][f"dl_{skill}_{fmt}"]
        ok = [numeric(s["filtered_resps"][0] if isinstance(s["filtered_resps"][0], str) else s["filtered_resps"][0][0],
                      s["doc"]["answer"]).ok for s in samples]
        acc[f"{skill}/{fmt}"] = sum(ok) / len(ok)
    return acc, seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-arith")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    skills = [get_skill(s) for s in SKILLS]
    items = {}
    for sk in skills:
        its = sk.items("eval", args.n, 0)
        for fmt, f in sk.formats.items():
            items[(sk.name, fmt)] = [{"prompt": f.prompt(it), "answer": it.answer} for it in its]
    n_items = sum(len(v) for v in items.values())

    t0 = time.perf_counter()
    model, tok = load_model(args.model, device="cpu")
    report, _ = probe(HFGenerator(model, tok, batch_size=args.batch_size), skills, n=args.n)
    probe_s = time.perf_counter() - t0
    probe_acc = {f"{s}/{f}": r["formats"][f]["accuracy"] for s, r in report["skills"].items() for f in r["formats"]}

    with tempfile.TemporaryDirectory() as d:
        lm_acc, lm_s = run_lm_eval(resolve_model(args.model), items, Path(d), args.batch_size)

    print(f"{n_items} items ({', '.join(SKILLS)} × native, exam; n={args.n} each), batch {args.batch_size}, CPU")
    print(f"{'':14}{'dataladder probe':>18}{'lm-eval (hf)':>16}")
    print(f"{'wall seconds':14}{probe_s:>18.2f}{lm_s:>16.2f}")
    print(f"{'items/s':14}{n_items / probe_s:>18.1f}{n_items / lm_s:>16.1f}")
    for key in probe_acc:
        print(f"{key:14}{probe_acc[key]:>18.3f}{lm_acc[key]:>16.3f}")
    print(f"speed ratio probe/lm-eval: {lm_s / probe_s:.2f}x; "
          f"max accuracy difference: {max(abs(probe_acc[k] - lm_acc[k]) for k in probe_acc):.3f}")


if __name__ == "__main__":
    main()
