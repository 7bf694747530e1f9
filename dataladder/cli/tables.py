"""What the CLI prints from result documents: rich tables and summary lines.

Each `print_*` function takes what a command produced (a probe, ladder, synth, prefs, RL or curation document,
mostly as written to its JSON file) and renders it on `console`; `dataladder.cli.main` and `dataladder.cli.data` run the
jobs and call these.
Nothing here computes a result: it formats what is already in the document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from dataladder.verify.sandbox import SandboxResult

console = Console(soft_wrap=True, emoji=False)  # no :name: emoji in user text; a line stays one line in logs and pipes; tables still fit the width
WIDE = 100  # columns from which tables show their low-value columns (evidence, hard/easy) and one-line intervals


def _narrow() -> bool:
    return console.width < WIDE


def _wrapped(text: str) -> Text:
    """A title or caption that wraps at the table's width (the console's soft wrap would keep it one long line)."""
    return Text(text, no_wrap=False, overflow="fold")


def short_skills(specs: list[str]) -> dict[str, str]:
    """Each skill spec's short name: a JSONL skill's name (`configs/tasks.jsonl:capital` → `capital`; a one-skill file
    its stem), a built-in spec as it is; the whole spec where two would share a short name."""
    from dataladder.skills.spec import parse_spec

    def short(spec: str) -> str:
        try:
            sp = parse_spec(spec)
        except ValueError:
            return spec
        return (sp.name or sp.path.stem) if sp.file else spec

    out = {s: short(s) for s in dict.fromkeys(specs)}
    counts: dict[str, int] = {}
    for v in out.values():
        counts[v] = counts.get(v, 0) + 1
    return {s: v if counts[v] == 1 else s for s, v in out.items()}


def _legend(names: dict[str, str]) -> str:
    """`capital = configs/tasks.jsonl:capital` for each shortened spec, for a caption ('' where none is)."""
    return "; ".join(f"{v} = {k}" for k, v in names.items() if k != v)


def _iv(x: float, lo: float, hi: float, digits: int = 2, lead: int | None = None) -> str:
    """`0.93 [0.90–0.95]`, the interval on a line of its own in a narrow console."""
    lead = digits if lead is None else lead
    return f"{x:.{lead}f}" + ("\n" if _narrow() else " ") + f"[{lo:.{digits}f}–{hi:.{digits}f}]"


def print_probe(report: dict) -> None:
    """probe.json: the capability profile, accuracy per skill and format with a diagnosis of each gap."""
    formats = list(dict.fromkeys(f for r in report["skills"].values() for f in r["formats"]))
    formats.sort(key=lambda f: f != "native")
    ns = sorted({x["n"] for r in report["skills"].values() for x in r["formats"].values() if x.get("n")})
    n_text = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}" if ns else "0"
    targets = sorted({r["target_format"] for r in report["skills"].values()})
    against = f"the {targets[0]} format" if len(targets) == 1 else f"each skill's target format ({', '.join(targets)})"
    t = Table(title=f"capability profile of {report.get('model')}",
              caption=f"accuracy [Wilson 95% interval], n = {n_text} scored per cell (— a format without eval "
                      f"items); lenient: the answer read leniently about format, where it differs; diagnosis against "
                      f"{against}")
    t.add_column("skill")
    for f in formats:
        t.add_column(f, justify="right", no_wrap=True)
    t.add_column("diagnosis")
    t.add_column("prior data band")
    for name, r in report["skills"].items():
        cells = []
        for f in formats:
            x = r["formats"].get(f)
            cells.append(f"{x['accuracy']:.2f} [{x['ci_low']:.2f}–{x['ci_high']:.2f}]" + _lenient_text(x)
                         if x and x.get("n", 1) else "—")  # no eval items in this format: no score
        diag = r["diagnosis"]
        if r.get("format_gap_by") == "lenient" or r.get("partly_format"):
            diag += " (lenient)" if r["diagnosis"] == "format-gap" else " (partly format)"
        if not r["cheaply_fixable"]:
            diag += f" (needs {', '.join(r['missing_prerequisites'])})"
        band = r["data_band"]
        hi = f"{band['high']:,}" if band["high"] is not None else "∞"
        t.add_row(name, *cells, diag, f"{band['label']} ({band['low']:,}–{hi})")
    console.print(t)
    frame = {"qa-frame": "; prompts in the QA frame (no chat template)", "chat-template": "; prompts in the chat template"}
    console.print(f"{report['items']:,} items, {report['items_per_second']:.0f} items/s generation, "
                  f"{report['seconds']:.1f} s in all{frame.get(report.get('prompt_frame'), '')}")


def _lenient_text(x: dict) -> str:
    """The lenient score on a line of its own, where it differs from the strict one (older files have none)."""
    le = x.get("lenient")
    return f"\n(lenient {le['accuracy']:.2f})" if le and le["correct"] != x["correct"] else ""


def print_pretrain(report: dict) -> None:
    """pretrain_report.json: parameters, tokens, compute and final loss in one line."""
    console.print(
        f"parameters N = {report['parameters']:,}; tokens D = {report['tokens_seen']:,}; "
        f"D/N = {report['tokens_per_parameter']:.1f} tokens per parameter "
        f"({report['chinchilla_ratio']:.2f}× Chinchilla's 20); compute ≈ 6·N·D = {report['compute_flops']:.3g} FLOPs; "
        f"final loss {report['final_loss']:.3f}; {report['seconds']:.0f} s on {report['device']} "
        f"({report['tokens_per_second']:,.0f} tokens/s)"
    )


def print_recommendations(doc: dict) -> None:
    """ladder.json: how much data reaches the target, per skill (and base model). Skills go by their short name; below
    `WIDE` columns each cell breaks into short lines, the table drops its outer edge and the evidence moves from a
    column to a line under the table."""
    import textwrap

    cfg = doc["config"]
    fmts = dict.fromkeys(str(a.get("target_format") or cfg.get("target_format")) for a in doc["arms"])
    names = short_skills([r["skill"] for r in doc["recommendations"]])
    narrow = _narrow()
    legend = _legend(names)
    t = Table(title=_wrapped(f"how much data reaches {cfg['target']:g} in the {', '.join(fmts)} format"),
              caption=_wrapped("accuracy with Wilson 95% interval; predicted n with 80% interval"
                               + ("; P: P(reachable)" if narrow else "") + "; forgetting = mean / worst change of the "
                               "other skills and formats" + (f"; {legend}" if legend else "")),
              show_edge=not narrow, pad_edge=not narrow)
    heads = ("skill", "verdict", "examples", "accuracy", "predicted\nn" if narrow else "predicted n", "forgetting")
    for c in heads + (() if narrow else ("evidence",)):
        t.add_column(c, overflow="fold", no_wrap=c == "accuracy")
    multi = len(cfg["models"]) > 1
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    sep = "\n" if narrow else " "
    evidence = []
    for r in doc["recommendations"]:
        pn = r["predicted_n"] or {}
        pred = f"{fmt_n(pn.get('median'))}{sep}[{fmt_n(pn.get('lo80'))}–{sep if narrow else ''}{fmt_n(pn.get('hi80'))}]" \
            if pn else "—"
        if r["p_reachable"] is not None:
            pred += f"\nP {r['p_reachable']:.2f}" if narrow else f"\nP(reachable) {r['p_reachable']:.2f}"
        ev = r["evidence"]
        name = names[r["skill"]] + (f"\n{Path(r['model']).name}" if multi else "")
        reason = f"({r['stop_reason'].replace('-', ' ')})"
        verdict = "reached" if r["verdict"] == "reached" else "not reached\n" + (textwrap.fill(reason, 12) if narrow
                                                                                else reason)
        ev_text = (f"{ev['rungs']} rungs, {ev['runs']} runs, {ev['examples_trained']:,} examples, "
                   f"{ev['train_flops']:.2g} FLOPs, {ev['seconds']:.0f} s")
        evidence.append(f"{name.replace(chr(10), ' on ')}: {ev_text}")
        f = r["forgetting"]
        t.add_row(
            name, verdict, (f"{r['n']:,}" if r["n"] else "—") + (f"\n{r['arm']}" if narrow else f"\n({r['arm']})"),
            _iv(r["accuracy"], r["ci_low"], r["ci_high"]), pred,
            "—" if f["mean"] is None else f"{f['mean']:+.2f} /{sep}{f['worst']:+.2f}",
            *(() if narrow else (f"{ev['rungs']} rungs, {ev['runs']} runs\n{ev['examples_trained']:,} examples\n"
                                 f"{ev['train_flops']:.2g} FLOPs, {ev['seconds']:.0f} s",)),
        )
    console.print(t)
    if narrow:
        for line in evidence:
            console.print(f"evidence for {line}", highlight=False)


def print_skills(rows: list[dict], title: str) -> None:
    """`dataladder skills`: one row per skill (`spec`, `formats`, `verifier`, `items`, `prerequisites`, `what`), by its
    short name; the caption says how to name a JSONL skill again. Below `WIDE` columns, prerequisites and what
    (a built-in's description) go under the skill's name."""
    names = short_skills([r["spec"] for r in rows])
    narrow = _narrow()
    files: dict[str, None] = {}  # specs `<file>:<skill>`, named again by the file and the short name
    others = {}
    for spec, short in names.items():
        if spec != short and spec == f"{spec.rsplit(':', 1)[0]}:{short}":
            files[spec.rsplit(":", 1)[0]] = None
        elif spec != short:
            others[spec] = short
    how = "; ".join([f"--skill {f}:<skill>" for f in files] + [f"{v}: --skill {k}" for k, v in others.items()])
    t = Table(title=_wrapped(title), caption=_wrapped(f"name a skill again as {how}") if how else None)
    cols = ("skill", "formats (* target)", "verifier", "eval / train items") + \
        (() if narrow else ("prerequisites", "what"))
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        name = Text(names[r["spec"]])
        if narrow:
            more = [f"needs {r['prerequisites']}" if r["prerequisites"] != "—" else "", r["what"]]
            for m in more:
                if m:
                    name.append(f"\n{m}", style="dim")
        t.add_row(name, r["formats"], r["verifier"], r["items"],
                  *(() if narrow else (r["prerequisites"], r["what"])))
    console.print(t)


def print_synth(st: dict) -> None:
    """A synth stats document: acceptance rate, rejections and what was written."""
    t = Table(title=f"synth {st['skill']} from {st['source']}: {st['written']:,} of {st['requested']:,} written "
                    f"({st['stopped']})",
              caption="acceptance = accepted samples / all samples, Wilson 95% (and with the k samples of a prompt "
                      "counted as correlated)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    iv = lambda x, lo, hi: f"{x:.3f} [{lo:.3f}–{hi:.3f}]"  # noqa: E731
    t.add_row("prompts (train partition)", f"{st['prompts']:,}")
    t.add_row("candidates", f"{st['candidates']:,}")
    t.add_row("accepted", f"{st['accepted']:,}")
    t.add_row(f"acceptance rate ({st['sample_format']})", iv(st["acceptance_rate"], st["ci_low"], st["ci_high"]))
    if st["design_effect"] > 1:
        t.add_row("  correlated per prompt", f"[{st['prompt_ci_low']:.3f}–{st['prompt_ci_high']:.3f}]"
                                             f" (design effect {st['design_effect']:.1f})")
    if st.get("greedy"):
        g = st["greedy"]
        t.add_row(f"greedy accuracy, same prompts ({g['format']})", iv(g["accuracy"], g["ci_low"], g["ci_high"]))
    if st.get("probe"):
        p = st["probe"]
        t.add_row(f"probe accuracy, eval partition ({p['format']}, n = {p['n']})",
                  iv(p["accuracy"], p["ci_low"], p["ci_high"]))
    if st["prompts"] and st["candidates"] > st["prompts"]:
        t.add_row("prompts with an accepted sample", f"{st['pass_at_k']:.3f}")
    for reason, c in sorted(st["rejected"].items()):
        t.add_row(f"rejected: {reason}", f"{c:,}")
    t.add_row("duplicates skipped", f"{st['duplicates']:,}")
    t.add_row("eval-partition items skipped", f"{st['eval_skipped']:,}")
    t.add_row("written", f"{st['written']:,} ({st['write_format']}, {st['trl_format']})")
    console.print(t)


def print_study(out: Path) -> None:
    """A study's probe profile and each climb's recommendations, read from its output directory."""
    probe_path = out / "probe" / "probe.json"
    if probe_path.exists():
        print_probe(json.loads(probe_path.read_text()))
    for p in sorted((out / "climbs").glob("*/ladder.json")):
        console.print(f"[bold]{p.parent.name}[/bold]")
        print_recommendations(json.loads(p.read_text()))


def print_prefs(doc: dict) -> None:
    """prefs.json: held-out pairwise accuracy by pair count, saturation and stop."""
    sources = list(dict.fromkeys(s for r in doc["rungs"] for s in r["by_source"]))
    unseen = set(doc["heldout"]["unseen_sources"])
    narrow = _narrow()  # hard/easy move to a line under the table
    skill = short_skills([doc["skill"]])[doc["skill"]]
    t = Table(title=_wrapped(f"reward model for {skill}: held-out pairwise accuracy by pair count"),
              caption=_wrapped("held-out: the training sources' held-out pairs, accuracy [Wilson 95%] pooled over "
                               "seeds; margin = mean score(chosen) − score(rejected); per-source and hard/easy "
                               "accuracies are on all held-out pairs (intervals in prefs.json); unseen = a source "
                               "never trained on" + (f"; {skill} = {doc['skill']}" if skill != doc["skill"] else "")))
    heads = [f"{s}{' (unseen)' if s in unseen else ''}" for s in sources]
    for c in ["pairs", "held-out", "margin"] + ([h.replace("-", "-\n") for h in heads] if narrow else heads) + \
            ([] if narrow else ["hard", "easy"]):  # narrow: `other-model` may break after its hyphen
        t.add_column(c, justify="right", no_wrap=c == "held-out", overflow="fold")
    ci = lambda a: _iv(a["accuracy"], a["ci_low"], a["ci_high"], 2, 3)  # noqa: E731
    cell = lambda a: f"{a['accuracy']:.3f}" if a else "—"  # noqa: E731
    b = doc["base"]
    t.add_row("0 (base)", ci(b), f"{b['margin']:+.2f}", *["" for _ in sources], *([] if narrow else ["", ""]))
    for r in doc["rungs"]:
        t.add_row(f"{r['n']:,}", ci(r), f"{r['margin']:+.2f}", *[cell(r["by_source"].get(s)) for s in sources],
                  *([] if narrow else [cell(r["by_hardness"].get("hard")), cell(r["by_hardness"].get("easy"))]))
    console.print(t)
    if narrow and doc["rungs"]:
        console.print("hard / easy held-out pairs by pair count: " + "; ".join(
            f"{r['n']:,}: {cell(r['by_hardness'].get('hard'))} / {cell(r['by_hardness'].get('easy'))}"
            for r in doc["rungs"]), highlight=False)
    sat, fit = doc.get("saturation"), doc.get("fit")
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    if sat:
        console.print(f"saturation point (10× more pairs gains < {sat['delta']:g}): {fmt_n(sat['median'])} pairs "
                      f"[80%: {fmt_n(sat['lo80'])}–{fmt_n(sat['hi80'])}]; P(saturated by {doc['rungs'][-1]['n']:,}) "
                      f"{sat['p_saturated_by_largest_rung']:.2f}; gain of 10× at {doc['rungs'][-1]['n']:,}: "
                      f"{sat['gain_10x_at_largest_rung']['mean']:+.3f}", highlight=False)
    if fit:
        nt = fit["n_target"]
        console.print(f"pairs to reach {doc['config']['target']:g}: {fmt_n(nt['median'])} [80%: {fmt_n(nt['lo80'])}–"
                      f"{fmt_n(nt['hi80'])}], P(reachable) {fit['p_reachable']:.2f}", highlight=False)
    console.print(f"stop: {doc['stop']['reason']}; reached at: {doc['reached_at'] or '—'}; "
                  f"{doc['seconds']:.0f} s", highlight=False)


def print_compare(doc: dict, delta: float) -> None:
    """compare.json: each kind of data's largest rung and saturation point."""
    t = Table(title="what each kind of data buys", caption=f"saturation: the count past which 10× more gains < {delta:g} "
                                                         "(median [80% interval])")
    for c in ("data", "metric", "largest n", "score there", "saturation"):
        t.add_column(c)
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    for c in doc["curves"]:
        last = c["points"][-1]
        s = c["saturation"]
        sat = f"{fmt_n(s['median'])} [{fmt_n(s['lo80'])}–{fmt_n(s['hi80'])}]" if s else f"— ({c['saturation_from']})"
        t.add_row(c["kind"], c["metric"], f"{last['n']:,}", f"{last['accuracy']:.3f} [{last['ci_low']:.2f}–{last['ci_high']:.2f}]", sat)
    console.print(t)


def print_curate(input: Path, stats: dict) -> None:
    """A curation's stats.json: records per step and what was kept and rejected."""
    t = Table(title=f"curate {input}", caption=f"{stats['in']:,} records in {stats['seconds']:.1f} s "
                                               f"({stats['records_per_second']:,.0f} records/s)")
    for c in ("step", "in", "dropped", "seconds"):
        t.add_column(c, justify="left" if c == "step" else "right")
    for name, s in stats["steps"].items():
        t.add_row(name, f"{s['in']:,}", f"{s['dropped']:,}", f"{s['seconds']:.2f}")
    console.print(t)
    reasons = ", ".join(f"{k} {v:,}" for k, v in stats["dropped"].items()) or "none"
    console.print(f"kept {stats['kept']:,} of {stats['in']:,} ({stats['unverified_kept']:,} unverified); "
                  f"rejected {stats['rejected']:,}: {reasons}", highlight=False)


def print_noise(output: Path, counts: dict) -> None:
    """Items per noise kind in a corrupted copy."""
    t = Table(title=f"noise in {output}")
    t.add_column("kind")
    t.add_column("items", justify="right")
    for kind, n in counts.items():
        t.add_row(kind, f"{n:,}")
    console.print(t)


def print_sandbox(caps: dict) -> None:
    """Which protections the code sandbox has on this host."""
    t = Table(title=f"code sandbox on this host: mode {caps['mode']}")
    t.add_column("protection")
    t.add_column("holds")
    for key, value in caps.items():
        if key not in ("mode", "unavailable"):
            t.add_row(key, ", ".join(value) if isinstance(value, list) else ("yes" if value else "no"))
    for mode, why in caps["unavailable"].items():
        t.add_row(f"mode {mode}", f"unavailable: {why}")
    console.print(t)


def print_verdict(r: SandboxResult) -> None:
    """One sandbox run's verdict, tests passed and time."""
    verdict = "[green]ok[/green]" if r.ok else f"[red]{r.reason}[/red]"
    console.print(f"verdict: {verdict} ({r.detail}); {r.tests_passed}/{r.tests_total} tests, {r.seconds:.2f} s wall, "
                  f"{(r.cpu_seconds or 0):.2f} s CPU")


def print_rl(doc: dict) -> None:
    """rl.json: greedy accuracy by rollouts, the zero-signal check, cold start, stop and overoptimization."""
    skill = short_skills([doc["skill"]])[doc["skill"]]
    n_eval = doc.get("before", {}).get("total", doc["eval"]["n"])  # the RL format's items actually scored
    t = Table(title=_wrapped(f"RL on {skill} ({doc['format']} format): greedy accuracy by rollouts"),
              caption=_wrapped(f"accuracy [Wilson 95%] on {n_eval} held-out items; zero-std groups = TRL's "
                               "frac_reward_zero_std, the share of groups with equal rewards (mean over the rung's "
                               "steps)" + (f"; {skill} = {doc['skill']}" if skill != doc["skill"] else "")))
    for c in ("arm", "rollouts", "steps", "accuracy", "reward", "zero-std groups"):
        t.add_column(c, justify="left" if c == "arm" else "right", overflow="fold", no_wrap=c == "accuracy")
    for a in doc["arms"]:
        prev = 0
        for r in a["rungs"]:
            seg = [h for h in a["log"] if prev < h["step"] <= r["steps"]]
            mean = lambda k: f"{sum(h[k] for h in seg) / len(seg):.3f}" if seg else "—"  # noqa: E731
            t.add_row(a["label"], f"{r['n']:,}", str(r["steps"]),
                      _iv(r["accuracy"], r["ci_low"], r["ci_high"], 2, 3), mean("reward"),
                      mean("frac_reward_zero_std"))
            prev = r["steps"]
    console.print(t)
    z, b, a, cs = doc["zero_signal"], doc["before"], doc["after"], doc.get("cold_start")
    if cs:
        f0, f1 = cs["formats_before"][doc["format"]], cs["formats_after"][doc["format"]]
        console.print(f"cold start ({cs['reason']}): SFT on {cs['verified']} verified examples, {cs['steps']} steps; "
                      f"greedy accuracy {f0['accuracy']:.3f} [{f0['ci_low']:.3f}–{f0['ci_high']:.3f}] → {f1['accuracy']:.3f} "
                      f"[{f1['ci_low']:.3f}–{f1['ci_high']:.3f}], the starting policy of RL below", highlight=False)
    console.print(f"zero-signal share: predicted {z['predicted']:.3f} (starting policy); observed "
                  f"{z['early']:.3f} over the first {z['early_steps']} steps, {z['all']:.3f} over all {z['steps']}"
                  + ("" if doc["config"]["reward_model"] is None else " (the prediction is for the verifier's 0/1 "
                     "reward; a reward model's scores tie only when a group's completions are identical)"),
                  highlight=False)
    console.print(f"greedy accuracy {b['accuracy']:.3f} [{b['ci_low']:.3f}–{b['ci_high']:.3f}] → {a['accuracy']:.3f} "
                  f"[{a['ci_low']:.3f}–{a['ci_high']:.3f}] after {a['rollouts']:,} rollouts: "
                  + ("raised beyond both intervals" if doc["improved"] else "intervals overlap"), highlight=False)
    first = (cs or {}).get("formats_before", doc["base_formats"])
    console.print("every format, base → " + ("cold start → " if cs else "") + "after RL: " + "; ".join(
        f"{f} {first[f]['accuracy']:.3f} → " + (f"{doc['base_formats'][f]['accuracy']:.3f} → " if cs else "")
        + f"{doc['after_formats'][f]['accuracy']:.3f}" for f in doc["after_formats"]), highlight=False)
    d = doc["diversity"]
    feats = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d.get("features", {}).items())
    console.print(f"prompts: {d['prompts']:,}, skills {d['skills']}, {feats}, "
                  f"near-duplicate share {d['near_duplicate_share']:.3f}", highlight=False)
    r, s = doc["recommendation"], doc.get("saturation")
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    pn = r["predicted_rollouts"] or {}
    console.print(f"target {r['target']:g}: {r['verdict']}" + (f" at {r['rollouts']:,} rollouts" if r["rollouts"] else "")
                  + (f"; predicted {fmt_n(pn.get('median'))} rollouts [80%: {fmt_n(pn.get('lo80'))}–{fmt_n(pn.get('hi80'))}],"
                     f" P(reachable) {r['p_reachable']:.2f}" if pn else "") + f"; stop: {r['stop_reason']}", highlight=False)
    if s:
        console.print(f"saturation (10× more rollouts gains < {s['delta']:g}): {fmt_n(s['median'])} rollouts "
                      f"[80%: {fmt_n(s['lo80'])}–{fmt_n(s['hi80'])}]", highlight=False)
    for a in doc["arms"]:
        for rg in (a.get("overoptimization") or {}).get("ranges", []):
            console.print(f"[yellow]overoptimization[/yellow] ({a['label']}): steps {rg['steps'][0]}–{rg['steps'][1]}: "
                          f"reward-model score {rg['rm_change']:+.3f}, verified accuracy {rg['verified_change']:+.3f}",
                          highlight=False)
