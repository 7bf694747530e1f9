"""The data-tool subcommands of `dataladder`: `synth`, `curate`, `corrupt` and `sandbox`.

Run them as `dataladder synth --help` and so on. They make, clean, spoil or check training data and train nothing;
`dataladder.cli.main` registers these plain functions on its typer `app`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dataladder.cli.common import OUTPUT, _quiet, check_writable, distinct_files, progress, user_errors, validated
from dataladder.cli.tables import console, print_curate, print_noise, print_sandbox, print_synth, print_verdict
from dataladder.core.errors import not_a_file


@user_errors
def synth(
    skill: Annotated[str, typer.Option(help="skill whose train split supplies the prompts: a built-in (mul, "
                                            "mul:<param>=<value>) or a JSONL skill (tasks.jsonl, tasks.jsonl:code)")],
    n: Annotated[int, typer.Option(help="examples to write")] = 1000,
    source: Annotated[str, typer.Option(help="template | self | endpoint")] = "template",
    output: Annotated[Optional[Path], typer.Option(help="JSONL to write (default runs/synth/<skill>-<source>.jsonl)", **OUTPUT)] = None,
    stats: Annotated[Optional[Path], typer.Option(help="stats JSON (default: next to --output, .stats.json)")] = None,
    model: Annotated[Optional[str], typer.Option(help="self: 'tiny-arith' or a local model directory")] = None,
    k: Annotated[int, typer.Option(help="self/endpoint: completions sampled per prompt")] = 4,
    temperature: Annotated[float, typer.Option(help="self/endpoint: sampling temperature")] = 0.5,
    top_p: Annotated[float, typer.Option(help="self/endpoint: nucleus sampling")] = 1.0,
    sample_format: Annotated[Optional[str], typer.Option(help="prompt format to sample in (default: native for self, the write format for endpoint)")] = None,
    write_format: Annotated[Optional[str], typer.Option(help="prompt format of the written examples (default: the skill's target, exam)")] = None,
    trl_format: Annotated[str, typer.Option(help="prompt-completion | messages")] = "prompt-completion",
    messages: Annotated[bool, typer.Option("--messages", help="shorthand for --trl-format messages")] = False,
    max_candidates: Annotated[Optional[int], typer.Option(help="budget of sampled completions (default 20·n·k)")] = None,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="tokens per completion (default: the skill's for self, 64 for endpoint)")] = None,
    endpoint_url: Annotated[Optional[str], typer.Option(help="endpoint: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")] = None,
    endpoint_model: Annotated[Optional[str], typer.Option(help="endpoint: the served model's name")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="endpoint: API key (default $OPENAI_API_KEY)")] = None,
    concurrency: Annotated[int, typer.Option(help="endpoint: requests in flight")] = 8,
    endpoint_timeout: Annotated[float, typer.Option(help="endpoint: seconds for all tries of one request together "
                                                         "(a server that never replies is reported then)")] = 180.0,
    greedy_check: Annotated[bool, typer.Option(help="self: also score greedy decoding on the same prompts")] = True,
    probe: Annotated[Optional[Path], typer.Option(help="a probe.json whose eval accuracy to show next to the acceptance rate")] = None,
    seed: Annotated[int, typer.Option(help="which train prompts are drawn, and the sampling seed")] = 0,
    prompts_file: Annotated[Optional[Path], typer.Option(help="more train prompts for a JSONL skill, in its line format "
                                                              "(skill optional; the completion too, given 'answer' or "
                                                              "a verifier that needs neither)")] = None,
) -> None:
    """Verified examples for a skill in TRL format: from its generator, the model itself, or a teacher endpoint."""
    from dataladder.cli.common import refuse_together
    from dataladder.data.formats import check_output_suffix

    if output is not None:  # the default one is checked once the skill names it
        check_writable(output, "--output", file=True)
        check_output_suffix(output, "--output")
    from dataladder.data.synth import SOURCES, SynthConfig, run_synth

    refuse_together(messages and trl_format != "messages", "--messages", ("trl_format",),
                    "--messages is --trl-format messages")
    refuse_together(source == "template", "--source template", (
        "model", "endpoint_url", "endpoint_model", "api_key", "k", "temperature", "top_p", "concurrency",
        "endpoint_timeout", "probe", "greedy_check", "max_candidates", "sample_format"),
        "the template source writes the skill's own examples: no model, no sampling")
    refuse_together(source == "self", "--source self", ("endpoint_url", "endpoint_model", "api_key", "concurrency",
                                                        "endpoint_timeout"), "the endpoint options are for --source endpoint")
    refuse_together(source == "endpoint", "--source endpoint", ("model",), "--model is for --source self")
    for opt, value, ok, need in (("--n", n, 1 <= n <= 10_000_000, "a positive number of examples, at most 10,000,000"),
                                 ("--k", k, 1 <= k <= 1000, "a positive number, at most 1,000"),
                                 ("--seed", seed, 0 <= seed < 2**32, "from 0 to 2**32 - 1"),
                                 ("--endpoint-timeout", endpoint_timeout, 0 < endpoint_timeout <= 86_400,
                                  "seconds above 0, at most a day"),
                                 ("--temperature", temperature, 0 <= temperature < float("inf"), "a finite number ≥ 0"),
                                 ("--top-p", top_p, 0 < top_p <= 1, "in (0, 1]"),
                                 ("--concurrency", concurrency, concurrency >= 1, "a positive number"),
                                 ("--max-candidates", max_candidates, max_candidates is None or max_candidates >= 1,
                                  "a positive number"),
                                 ("--max-new-tokens", max_new_tokens,
                                  max_new_tokens is None or 1 <= max_new_tokens <= 1_000_000,
                                  "a positive number, at most 1,000,000")):
        if not ok:
            raise ValueError(f"option {opt} {value}: expected {need}")
    if probe is not None and (why := not_a_file(probe)):
        raise ValueError(f"--probe {probe}: {why}")
    if stats is not None:
        check_writable(stats, "--stats", file=True)
    if source == "self":
        from dataladder.models.hub import check_model

        check_model("tiny-arith" if model is None else model)  # '' is refused, not the default

    from dataladder.core.errors import for_option
    from dataladder.skills.spec import train_skill

    with for_option("--source"):
        SOURCES.get(source)  # did-you-mean before any work
    from dataladder.skills import get_skill

    with for_option("--skill"):
        get_skill(skill)  # bad specs and lines: before any work
    with for_option("--prompts-file"):
        name = train_skill(skill, str(prompts_file) if prompts_file else None).name
    cfg = SynthConfig(skill=skill, n=n, source=source, model=model, k=k if source != "template" else 1,
                      temperature=temperature, top_p=top_p, sample_format=sample_format, write_format=write_format,
                      trl_format="messages" if messages else trl_format, seed=seed,
                      max_candidates=max_candidates, max_new_tokens=max_new_tokens, endpoint_url=endpoint_url,
                      endpoint_model=endpoint_model, api_key=api_key, concurrency=concurrency,
                      endpoint_timeout=endpoint_timeout, greedy_check=greedy_check,
                      probe=str(probe) if probe else None, prompts_file=str(prompts_file) if prompts_file else None)
    output = output or Path("runs/synth") / f"{name}-{source}.jsonl"
    check_writable(output, "--output", file=True)
    distinct_files({"--output": output, "--stats": stats or output.with_suffix(".stats.json"), "--probe": probe,
                    "--prompts-file": prompts_file, "--skill": skill.partition(":")[0] if ".json" in skill else None})
    if source == "endpoint" and endpoint_url:
        from dataladder.generate.endpoint import check_reachable

        check_reachable(endpoint_url)  # nothing listening: one line at once, before the model's imports
    from dataladder.data.synth import prepare

    prepare(cfg)  # the formats, the --probe file: refused before the busy-machine line and any model
    if source == "self" and model:  # bad options fail first, without the transformers import
        _quiet()
    with progress() as bar:
        task = bar.add_task(f"synth {name} ({source})", total=n)
        st = run_synth(cfg, output, stats, on_progress=lambda done, total: bar.update(task, completed=done))
    print_synth(st)
    if off := st["rejected"].get("disagrees_with_gold"):  # a shape check passed them: say so, not "verified"
        console.print(f"dropped {off:,} samples that pass the verifier but disagree with their item's gold answer "
                      "(disagrees_with_gold)")
    console.print(f"wrote {st['written']:,} examples to {output} and stats to {st['stats_path']}")


@user_errors
def curate(
    input: Annotated[Path, typer.Argument(help="records: JSONL, JSON or Parquet in TRL, Alpaca or ShareGPT format")],
    output_dir: Annotated[Path, typer.Option(help="where kept.jsonl, rejected.jsonl and stats.json go", **OUTPUT)] = Path("runs/curate"),
    steps: Annotated[str, typer.Option(help="steps in order (validate always runs first)")] = "validate,normalize,verify,dedup,near-dup,decontaminate,length",
    skill: Annotated[Optional[str], typer.Option(help="skill of records without a 'skill' field (name or JSONL file)")] = None,
    eval_set: Annotated[Optional[list[Path]], typer.Option(help="eval file to decontaminate against; repeat for several")] = None,
    eval_skill: Annotated[Optional[list[str]], typer.Option(help="skill whose eval items are off limits (built-in or "
                                                                 "JSONL; its records may then name it); repeat")] = None,
    eval_n: Annotated[int, typer.Option(help="eval items per --eval-skill matched as text")] = 1000,
    near_dup_threshold: Annotated[float, typer.Option(help="Jaccard similarity (character shingles) of near duplicates")] = 0.8,
    ngram_overlap: Annotated[float, typer.Option(help="share of an eval prompt's n-grams that makes a leak")] = 0.8,
    min_chars: Annotated[int, typer.Option(help="min characters of prompt + completion")] = 1,
    max_chars: Annotated[Optional[int], typer.Option(help="max characters of prompt + completion")] = None,
    skip_bad: Annotated[bool, typer.Option(help="reject bad records (bad_record:<field>) instead of stopping")] = False,
    require_verified: Annotated[bool, typer.Option(help="reject records no verifier can check")] = False,
) -> None:
    """Curate records: validate, normalize, verify, dedup, near-dup, decontaminate, length filters."""
    check_writable(output_dir, "--output-dir")
    if steps.strip(", ") and any(not s.strip() for s in steps.split(",")):  # none at all: CurateConfig says so
        raise ValueError(f"--steps {steps!r}: an empty item; give step names separated by commas")
    from dataladder.data.curate import CurateConfig, curate as curate_fn

    cfg = validated(CurateConfig, {
        "steps": [s.strip() for s in steps.split(",") if s.strip()], "skill": skill,
        "eval_sets": [str(p) for p in eval_set or []], "eval_skills": eval_skill or [], "eval_n": eval_n,
        "near_dup_threshold": near_dup_threshold, "ngram_overlap": ngram_overlap, "min_chars": min_chars,
        "max_chars": max_chars, "skip_bad": skip_bad, "require_verified": require_verified})
    from dataladder.cli.common import given, refuse_together

    if given("eval_n") and not eval_skill:
        raise ValueError(f"--eval-n {eval_n} without --eval-skill: --eval-n counts each --eval-skill's eval items; "
                         "give --eval-skill or drop --eval-n")
    for step, params in (("near-dup", ("near_dup_threshold",)), ("decontaminate", ("eval_set", "eval_n", "ngram_overlap")),
                         ("length", ("min_chars", "max_chars")), ("verify", ("require_verified",))):
        refuse_together(step not in cfg.steps, f"--steps {','.join(cfg.steps)}", params,
                        f"the option is for the {step} step, which --steps leaves out")
    from dataladder.core.errors import for_option
    from dataladder.skills import resolve_skills

    for option, names in (("--skill", [skill] if skill else []), ("--eval-skill", eval_skill or [])):
        with for_option(option):  # an unknown name or a bad JSONL line, named by its option, before any record
            resolve_skills(names)
    with progress() as bar:
        task = bar.add_task("curating (records read)", total=None)
        stats = curate_fn(input, output_dir, cfg, on_record=lambda n: bar.update(task, completed=n))
    print_curate(input, stats)
    console.print(f"wrote {output_dir / 'kept.jsonl'}, {output_dir / 'rejected.jsonl'} and {output_dir / 'stats.json'}")


@user_errors
def corrupt(
    input: Annotated[Path, typer.Argument(help="records: JSONL, JSON or Parquet in TRL, Alpaca or ShareGPT format")],
    output: Annotated[Path, typer.Option(help="the noisy copy (TRL JSONL; .json or .parquet by suffix)", **OUTPUT)],
    wrong_share: Annotated[float, typer.Option(help="share of items given a plausible wrong answer")] = 0.0,
    unverified_share: Annotated[float, typer.Option(help="share of items replaced by unverified synthetic answers")] = 0.0,
    duplicate_share: Annotated[float, typer.Option(help="share of items replaced by exact copies of others")] = 0.0,
    synthetic_error: Annotated[float, typer.Option(help="how often an unverified synthetic answer is wrong")] = 0.5,
    seed: Annotated[int, typer.Option(help="which items are corrupted, and how")] = 0,
    skill: Annotated[Optional[list[str]], typer.Option(help="the records' skills (a JSONL file: all of its skills; "
                                                            "records name theirs in 'skill'): each wrong answer is one "
                                                            "its verifier refuses; repeat for several")] = None,
) -> None:
    """Make a noisy copy of a dataset on purpose; each noisy record carries `noise: {kind, ...}`."""
    check_writable(output, "--output", file=True)
    from dataladder.data.formats import check_output_suffix

    check_output_suffix(output, "--output")
    if output.exists() and input.exists() and os.path.samefile(output, input):  # a link or a hard link too
        raise ValueError(f"--output {output}: is the input file; give another path (the noisy copy would replace it)")
    distinct_files([("--output", output), *(("--skill", s.partition(":")[0]) for s in skill or [] if ".json" in s)])
    from dataladder.data.formats import read_trl, write_records
    from dataladder.data.noise import add_noise, noise_counts

    for name, v in (("--wrong-share", wrong_share), ("--unverified-share", unverified_share),
                    ("--duplicate-share", duplicate_share), ("--synthetic-error", synthetic_error)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} {v}: must lie in [0, 1]")
    if not 0 <= seed < 2**32:
        raise ValueError(f"--seed {seed}: must be between 0 and 2**32 - 1")
    from dataladder.cli.common import refuse_together

    refuse_together(unverified_share == 0, "--unverified-share 0", ("synthetic_error",),
                    "--synthetic-error is how often the unverified synthetic answers are wrong, and there are none")
    refuse_together(wrong_share == 0, "--wrong-share 0", ("skill",),
                    "--skill shapes the wrong answers, and there are none")
    if wrong_share == unverified_share == duplicate_share == 0:
        raise ValueError("--wrong-share, --unverified-share and --duplicate-share are all 0: the noisy copy would be an "
                         "exact copy; give at least one share above 0")
    from dataladder.skills import resolve_skills

    from dataladder.core.errors import for_option

    with for_option("--skill"):
        sk = resolve_skills(skill) if skill else None  # a bad spec or JSONL line: before reading the records
    records = [rec for _, rec in read_trl(input)]
    noisy = add_noise(records, wrong_share, unverified_share, duplicate_share, seed, synthetic_error, sk)
    write_records(output, noisy)
    print_noise(output, noise_counts(noisy))


@user_errors
def sandbox(
    program: Annotated[Optional[Path], typer.Argument(help="a Python file to run in the sandbox (optional)")] = None,
    tests: Annotated[Optional[list[Path]], typer.Option(help="a file of test code run after the program; repeat")] = None,
    limits: Annotated[str, typer.Option(help="e.g. 'wall_s=5,cpu_s=2,memory_mb=256' (see the README)")] = "",
) -> None:
    """Which protections the code sandbox has on this host; with PROGRAM, run it (and --tests) and print the verdict."""
    from dataladder.core.errors import for_option
    from dataladder.verify.sandbox import Limits, Sandbox, sandbox_capabilities

    with for_option("--limits"):
        lim = Limits.parse(limits)
    if tests and program is None:
        raise ValueError("--tests without PROGRAM: the tests run after a program; give the program's file first")
    if limits and program is None:
        raise ValueError("--limits without PROGRAM: the limits are a run's; give the program's file to run under them")
    if twice := next((t for i, t in enumerate(tests or []) if t in (tests or [])[:i]), None):
        raise ValueError(f"--tests {twice} is given twice; give each test file once")
    sources = [_source(path) for path in [*([program] if program else []), *(tests or [])]]  # before any output
    caps = sandbox_capabilities()
    print_sandbox(caps)
    if program is None:
        return
    box = Sandbox(lim, workers=1)
    r = box.run(sources[0], sources[1:])
    sys.stdout.write(summarised(r.stdout, "stdout"))
    sys.stderr.write(summarised(r.stderr, "stderr"))
    print_verdict(r)
    if not r.ok:
        raise typer.Exit(1)


def _source(path: Path) -> str:
    """A Python file's text in its declared encoding (PEP 263; UTF-8 without one); one line naming the file if
    it cannot be read so."""
    import tokenize

    if why := not_a_file(path):
        raise ValueError(f"{path}: {why}")
    data = path.read_bytes()
    try:
        encoding = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)[0]
    except SyntaxError as e:  # an unknown coding cookie, or bytes that are not UTF-8 (told below)
        if "unknown encoding" in e.msg:
            raise ValueError(f"{path}: {e.msg}") from None
        encoding = "utf-8"
    try:
        return data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not {encoding} text ({e.reason} at byte {e.start}); save it as UTF-8 or declare "
                         "its encoding (# -*- coding: latin-1 -*-)") from None


def summarised(text: str, name: str, head: int = 20, tail: int = 10, most: int = 8000) -> str:
    """A program's output for the terminal: whole when short, else its first and last lines around one line
    saying how much there was (a flood of output, up to the sandbox's cap, is not worth a screen of scroll)."""
    lines = text.splitlines()
    if len(lines) <= head + tail and len(text) <= most:
        return text
    first, last = lines[:head], lines[head:][-tail:]
    long = any(len(x) > 200 for x in first + last)
    cut = lambda ls: "".join((x if len(x) <= 200 else x[:200] + "…") + "\n" for x in ls)
    total = len(text.encode("utf-8", "replace"))
    return (cut(first) + f"… {name}: {total:,} bytes in {len(lines):,} lines; shown: the first {len(first)} and the "
            f"last {len(last)}{', long lines cut at 200 characters' if long else ''} …\n" + cut(last))
