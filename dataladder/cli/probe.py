"""`dataladder probe`: evals first, through the generation layer (in process or against a served model).

    dataladder probe --model tiny-arith --n 300
    dataladder probe --model ./my-qwen --skill tasks.jsonl --chat-template auto
    dataladder probe --backend endpoint --endpoint-url http://127.0.0.1:8000/v1 --endpoint-model m --skill tasks.jsonl
    dataladder probe --skill tasks.jsonl --check-gold        # every gold answer passes its own verifier? (no model)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataladder.cli.common import (OUTPUT, ChatTemplateOpt, MaxNewTokensOpt, StopOpt, SystemPromptOpt, _quiet, check_writable,
                                   err_console, progress, prompt_fields, user_errors, validated)
from dataladder.cli.tables import console, print_probe


@user_errors
def probe(
    model: Annotated[Optional[str], typer.Option(help="'tiny-arith' (shipped, the default), a local model directory, "
                                                      "or a hub id (with --backend endpoint: a label for the result, "
                                                      "default the endpoint's model name)")] = None,
    skill: Annotated[Optional[list[str]], typer.Option(help="skill spec: a built-in (add, mul:<param>=<value>) or a JSONL "
                                                            "file (tasks.jsonl, tasks.jsonl:code); repeat for several "
                                                            "(default: the arithmetic skills, for tiny-arith only)")] = None,
    n: Annotated[int, typer.Option(help="eval items per skill and format (each format its own: a JSONL item with a `format` field counts for that format only)")] = 300,
    target_format: Annotated[Optional[str], typer.Option(help="the prompt format post-training aims at (default: each skill's own: exam for arithmetic)")] = None,
    seed: Annotated[int, typer.Option(help="which eval items are drawn")] = 0,
    batch_size: Annotated[int, typer.Option(help="generation batch size (hf)")] = 128,
    mastered_at: Annotated[float, typer.Option(help="accuracy at which a skill counts as mastered")] = 0.8,
    partial_at: Annotated[float, typer.Option(help="accuracy below which a skill counts as missing")] = 0.15,
    chat_template: ChatTemplateOpt = "auto",
    system_prompt: SystemPromptOpt = None,
    stop: StopOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    backend: Annotated[str, typer.Option(help="hf (transformers in this process) | endpoint (an OpenAI-compatible "
                                              "server: vllm serve, trl vllm-serve, SGLang, TGI, a hosted API)")] = "hf",
    endpoint_url: Annotated[Optional[str], typer.Option(help="endpoint: base URL, e.g. http://127.0.0.1:8000/v1")] = None,
    endpoint_model: Annotated[Optional[str], typer.Option(help="endpoint: the served model's name")] = None,
    endpoint_api: Annotated[str, typer.Option(help="endpoint: chat (/chat/completions, the server's template) | "
                                                   "completions (/completions, raw text)")] = "chat",
    concurrency: Annotated[int, typer.Option(help="endpoint: requests in flight")] = 8,
    endpoint_timeout: Annotated[float, typer.Option(help="endpoint: seconds for all tries of one request together "
                                                         "(a server that never replies is reported then)")] = 180.0,
    check_gold: Annotated[bool, typer.Option(help="only check that every item's gold answer passes its own "
                                                  "verifier (no model is loaded); exit 1 if one does not")] = False,
    output_dir: Annotated[Path, typer.Option(help="where probe.json and samples.jsonl go", **OUTPUT)] = Path("runs/probe"),
) -> None:
    """Evals first: per-skill, per-format accuracy with Wilson intervals, strict and read leniently about format
    (the answer amid prose), and a diagnosis of each gap: format or knowledge."""
    check_writable(output_dir, "--output-dir")
    from dataladder.generate import GenOptions
    from dataladder.evals.probe import run_probe
    from dataladder.skills.arithmetic import ARITHMETIC

    names = skill or list(ARITHMETIC)
    if n <= 0:
        raise ValueError(f"--n {n}: must be a positive number of items")
    if not 0 < batch_size <= 65_536:
        raise ValueError(f"--batch-size {batch_size}: must be a positive number of prompts, at most 65,536")
    if not 0 <= seed < 2**32:
        raise ValueError(f"--seed {seed}: must be between 0 and 2**32 - 1")
    from dataladder.cli.common import refuse_together

    refuse_together(backend == "hf", "--backend hf", ("endpoint_url", "endpoint_model", "endpoint_api", "concurrency",
                                                      "endpoint_timeout"), "endpoint options need --backend endpoint")
    refuse_together(backend == "endpoint", "--backend endpoint", ("batch_size",), "--batch-size is for --backend hf")
    refuse_together(check_gold, "--check-gold", (
        "model", "backend", "endpoint_url", "endpoint_model", "endpoint_api", "concurrency", "endpoint_timeout",
        "batch_size", "chat_template", "system_prompt", "stop", "max_new_tokens", "target_format", "n", "seed",
        "mastered_at", "partial_at", "output_dir"), "--check-gold loads no model and generates nothing: it checks every item's gold "
                    "answer")
    from dataladder.study.plan import ProbeStep

    validated(ProbeStep, {"n": n, "mastered_at": mastered_at, "partial_at": partial_at})
    if check_gold:
        _check_gold(names)
        return
    options = validated(GenOptions, {**prompt_fields(chat_template, system_prompt, stop, max_new_tokens),
                                     "backend": backend, "endpoint_url": endpoint_url, "endpoint_model": endpoint_model,
                                     "endpoint_api": endpoint_api, "concurrency": concurrency,
                                     "endpoint_timeout": endpoint_timeout})
    if model is not None and not model.strip():  # never read as the default
        raise ValueError(f"--model {model!r}: an empty value; give tiny-arith, a model directory or a hub id")
    if backend == "endpoint":
        from dataladder.generate.endpoint import check_url

        check_url(endpoint_url, endpoint_model)
        model = model or f"{endpoint_model} @ {endpoint_url}"
    else:
        from dataladder.models.hub import check_model

        model = model or "tiny-arith"
        check_model(model)
    if not skill and model != "tiny-arith":
        raise ValueError("--skill: name the skills to probe, e.g. --skill tasks.jsonl (the arithmetic skills are "
                         "the default only for the shipped tiny-arith)")
    from dataladder.evals.probe import check_skills, with_prerequisites
    from dataladder.skills import resolve_skills

    from dataladder.core.errors import for_option

    with for_option("--skill"):
        skills = resolve_skills(with_prerequisites(names))
    check_skills(skills, target_format)  # before any model is loaded
    if backend == "endpoint":
        from dataladder.generate.endpoint import check_reachable

        check_reachable(endpoint_url)  # nothing listening: one line at once, not after the imports
    _quiet()
    with progress() as bar:
        task = bar.add_task("probing", total=None)
        report = run_probe(model, names, output_dir, n, target_format, seed, batch_size, mastered_at,
                           partial_at, on_total=lambda t: bar.update(task, total=t),
                           on_batch=lambda k: bar.advance(task, k), options=options)
    print_probe(report)
    console.print(f"wrote {output_dir / 'probe.json'} and {output_dir / 'samples.jsonl'}")


def _check_gold(names: list[str]) -> None:
    from dataladder.evals.probe import check_gold
    from dataladder.skills import resolve_skills

    bad = check_gold(names)
    total = sum(len(s.items("eval", 1 << 30, 0)) + len(s.items("train", 1 << 30, 0)) if s.finite else 200
                for s in resolve_skills(names))
    for b in bad[:20]:
        where = b["source"] or f"{b['skill']} {b['key']}"
        err_console.print(f"{where}: gold answer fails its verifier ({b['reason']}): {b['completion'][:80]!r}",
                          markup=False, highlight=False, soft_wrap=True)
    if bad:
        err_console.print(f"[red]{len(bad)} gold answers fail their own verifier[/red] (of {total} items checked)")
        raise typer.Exit(1)
    console.print(f"all gold answers pass their own verifier ({total} items of {', '.join(names)})")
