"""Build report.html from a study's result files only (probe.json, ladder.json, noise/summary.json).

    dataladder report runs/demo

One self-contained page: styles inline, every plot a PNG embedded as base64, no network.
Sections appear when their results exist.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from datetime import datetime, timezone
from pathlib import Path

from dataladder.core.errors import malformed
from dataladder.core.results import read_result
from dataladder.evals import probe as _probe  # noqa: F401  (names the diagnoses the validator checks)
from dataladder.ladder.kinds import kinds
from dataladder.report.kinds import _figure, compare_section, ladder_section, prefs_section, rl_section
from dataladder.report.samples import samples_section

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:8px 0 4px} h2{font-size:20px;margin:34px 0 8px;border-bottom:2px solid #e1e4ea;padding-bottom:6px}
h3{font-size:16px;margin:20px 0 6px} .sub{color:#5b6475;font-size:14px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13.5px;margin:8px 0}
th,td{padding:6px 9px;border-bottom:1px solid #e8eaef;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{background:#fff;margin:12px 0;padding:12px;border:1px solid #e1e4ea;border-radius:6px}
figure img{max-width:100%;display:block;margin:0 auto} figcaption{font-size:13px;color:#4a5263;margin-top:8px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:10px 0}
.card{background:#fff;border:1px solid #e1e4ea;border-left:5px solid #3b6fd8;border-radius:6px;padding:10px 14px;flex:1 1 300px}
.card.bad{border-left-color:#d8743b} .card b{font-size:15px}
.tag{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;background:#eef1f6}
.tag.mastered{background:#d9f2e0}.tag.format-gap{background:#dfe9fb}.tag.partial{background:#fbf0d2}.tag.missing{background:#f9dddd}
footer{margin-top:40px;font-size:12px;color:#6b7385}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _n(v) -> str:
    return "∞" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.0f}"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def probe_section(probe: dict) -> str:
    plt = _plt()
    skills = list(probe["skills"])
    formats = list(dict.fromkeys(f for r in probe["skills"].values() for f in r["formats"]))
    formats.sort(key=lambda f: f != "native")
    if not formats:
        return ""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = 0.8 / len(formats)
    lx, ly = [], []  # the lenient scores that differ from the strict ones, one mark each
    for j, f in enumerate(formats):
        xs, ys, lo, hi = [], [], [], []
        for i, s in enumerate(skills):
            x = probe["skills"][s]["formats"].get(f)
            if x and x.get("n", 1):
                xs.append(i + (j - (len(formats) - 1) / 2) * width)
                ys.append(x["accuracy"])
                lo.append(x["accuracy"] - x["ci_low"])
                hi.append(x["ci_high"] - x["accuracy"])
                if (le := x.get("lenient")) and le["correct"] != x["correct"]:
                    lx.append(xs[-1])
                    ly.append(le["accuracy"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=f)
    if lx:
        ax.scatter(lx, ly, marker="D", s=22, color="k", zorder=3, label="lenient")
    ax.axhline(probe["mastered_at"], color="k", ls="--", lw=1, label=f"mastered at {probe['mastered_at']:g}")
    ax.set_xticks(range(len(skills)), skills)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8, ncol=len(formats) + 2, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    rows = []
    for s, r in probe["skills"].items():
        cells = "".join(
            f'<td class="num">{x["accuracy"]:.2f} [{x["ci_low"]:.2f}–{x["ci_high"]:.2f}]{_lenient_cell(x)}</td>'
            if (x := r["formats"].get(f)) and x.get("n", 1) else "<td>—</td>" for f in formats)
        band = r["data_band"]
        note = "" if r["cheaply_fixable"] else f" — needs {', '.join(r['missing_prerequisites'])} first"
        if r.get("format_gap_by") == "lenient":
            note += " — by the lenient reading"
        elif r.get("partly_format"):
            note += " — partly format (lenient ≥ 2× strict)"
        rows.append(f'<tr><td>{html.escape(s)}</td>{cells}<td><span class="tag {r["diagnosis"]}">{r["diagnosis"]}</span>{note}</td>'
                    f'<td>{band["label"]} ({_n(band["low"])}–{_n(band["high"])})</td></tr>')
    head = "".join(f"<th>{html.escape(f)}</th>" for f in formats)
    n_items = probe["items"]
    ns = sorted({x["n"] for r in probe["skills"].values() for x in r["formats"].values() if x.get("n")})
    n_bar = f"{ns[0]:,}" if len(ns) == 1 else f"{ns[0]:,}–{ns[-1]:,}" if ns else "0"
    cap = (f"Greedy accuracy of <b>{html.escape(str(probe.get('model')))}</b> per skill and prompt format on held-out items "
           f"(n = {n_bar} scored per bar, {n_items:,} items in all; — a format without eval items); error bars are Wilson 95% intervals; diamonds "
           "(and <i>lenient</i> in the table) are the same completions read leniently about format (the gold number "
           "amid prose, the first JSON object), where that differs. "
           f"Diagnoses are made against the <b>{html.escape(_targets(probe))}</b> format."
           + (f" Prompt frame: <b>{html.escape(str(probe['prompt_frame']))}</b>." if probe.get("prompt_frame") else ""))
    return ("<h2 id='profile'>Capability profile (evals first)</h2>"
            + _figure(_png(fig), cap, "accuracy per skill and format")
            + f"<table><tr><th>skill</th>{head}<th>diagnosis</th><th>prior data band</th></tr>{''.join(rows)}</table>")


def _lenient_cell(x: dict) -> str:
    le = x.get("lenient")  # probe files before the lenient reading have none
    if not le or le["correct"] == x["correct"]:
        return ""
    return f'<br><span class="sub">lenient {le["accuracy"]:.2f} [{le["ci_low"]:.2f}–{le["ci_high"]:.2f}]</span>'


def _targets(probe: dict) -> str:
    return ", ".join(dict.fromkeys(str(r.get("target_format", probe["target_format"])) for r in probe["skills"].values()))


def _ladder_figure(doc: dict, arms: list[dict], title: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    multi = len({a["model"] for a in arms}) > 1
    for i, a in enumerate(arms):
        c = colors[i % len(colors)]
        ns = [r["n"] for r in a["rungs"]]
        label = a["label"] + (f" · {Path(a['model']).name}" if multi else "")
        ax.errorbar(ns, [r["accuracy"] for r in a["rungs"]],
                    yerr=[[r["accuracy"] - r["ci_low"] for r in a["rungs"]], [r["ci_high"] - r["accuracy"] for r in a["rungs"]]],
                    fmt="o", color=c, capsize=3, label=label)
        if a.get("fit"):
            cv = a["fit"]["curve"]
            idx = [j for j, n in enumerate(cv["n"]) if ns[0] / 2 <= n <= max(ns) * 8]
            ax.plot([cv["n"][j] for j in idx], [cv["median"][j] for j in idx], color=c, lw=1.4)
            ax.fill_between([cv["n"][j] for j in idx], [cv["lo80"][j] for j in idx], [cv["hi80"][j] for j in idx], color=c, alpha=0.15, lw=0)
        if a.get("reached_at"):
            ax.axvline(a["reached_at"], color=c, ls=":", lw=1)
    ax.axhline(doc["config"]["target"], color="k", ls="--", lw=1, label=f"target {doc['config']['target']:g}")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel(f"accuracy ({arms[0].get('target_format') or doc['config']['target_format']})")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def climb_section(name: str, doc: dict) -> str:
    cfg = doc["config"]
    parts = [f"<h3>{html.escape(name)}</h3>"]
    for skill in dict.fromkeys(a["skill"] for a in doc["arms"]):
        arms = [a for a in doc["arms"] if a["skill"] == skill]
        runs = sum(len(r["seeds"]) for a in arms for r in a["rungs"])
        stops = "; ".join(f"{a['label']}: {a['stop']['reason']}" for a in arms)
        fmt = str(arms[0].get("target_format") or cfg["target_format"])
        n_eval = arms[0].get("base", {}).get("total") or cfg["eval_n"]  # the target format's items actually scored
        cap = (f"Accuracy on {n_eval:,} held-out <b>{html.escape(skill)}</b> items per seed in the {html.escape(fmt)} "
               f"format after fine-tuning on n examples ({runs} training runs, {cfg['seeds']} seeds per rung, points pooled over "
               f"seeds with Wilson 95% intervals). Lines: fitted curve, band: its 80% interval. Stop: {html.escape(stops)}.")
        parts.append(_figure(_ladder_figure(doc, arms, f"{skill}: {', '.join(a['label'] for a in arms)}"), cap, f"ladder for {skill}"))
        rows = []
        for a in arms:
            for r in a["rungs"]:
                rows.append(f"<tr><td>{html.escape(a['label'])}</td><td class='num'>{r['n']:,}</td>"
                            f"<td class='num'>{r['accuracy']:.3f} [{r['ci_low']:.3f}–{r['ci_high']:.3f}]"
                            f"{' <i>unsound: not fitted</i>' if r.get('unsound') else ''}</td>"
                            f"<td class='num'>{_signed(r['mean_forgetting'])}</td><td class='num'>{_signed(r['worst_forgetting'])}</td>"
                            f"<td class='num'>{_forecast_cell(r.get('forecast'))}</td>"
                            f"<td class='num'>{r['train_seconds']:.1f} s</td></tr>")
        parts.append("<table><tr><th>arm</th><th>examples</th><th>accuracy [95%]</th><th>mean forgetting</th>"
                     f"<th>worst forgetting</th><th>forecast n for {cfg['target']:g} after this rung [80%]</th>"
                     f"<th>train time</th></tr>{''.join(rows)}</table>")
        finals = "; ".join(f"{html.escape(a['label'])}: " + (f"target reached at {a['reached_at']:,} examples" if a.get("reached_at")
                                                              else f"not reached by {a['rungs'][-1]['n']:,} examples ({a['stop']['reason']})")
                           for a in arms)
        parts.append(f"<p>From the third rung on, each row's forecast is what the fit said before the next "
                     f"rung was run. What the ladder finally measured: {finals}.</p>")
    return "".join(parts)


def _forecast_cell(block: dict | None) -> str:
    if not block:
        return "—"
    nt = block["n_target"]
    return f"{_n(nt['median'])} [{_n(nt['lo80'])}–{_n(nt['hi80'])}]"


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def lora_section(docs: dict[str, dict]) -> str:
    rows = []
    lora_skills = {a["skill"] for d in docs.values() for a in d["arms"] if a["method"] == "lora"}
    for name, doc in docs.items():
        for a in doc["arms"]:
            if a["skill"] not in lora_skills:
                continue
            last = a["rungs"][-1]
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(a['skill'])}</td><td>{html.escape(a['label'])}</td>"
                        f"<td class='num'>{_n(a['reached_at']) if a['reached_at'] else 'not reached'}</td>"
                        f"<td class='num'>{last['n']:,}: {last['accuracy']:.3f}</td><td class='num'>{_signed(last['mean_forgetting'])}</td>"
                        f"<td>{html.escape(a['stop']['reason'])}</td></tr>")
    if not rows:
        return ""
    return ("<h2 id='lora'>LoRA ranks side by side</h2><p class='sub'>Each rank climbs the same nested data; the lowest rank "
            "that reaches the target is the one recommended; full fine-tuning on the same skill is listed for comparison.</p><table><tr><th>ladder</th><th>skill</th><th>arm</th>"
            f"<th>reached target at</th><th>last rung: accuracy</th><th>mean forgetting</th><th>stop</th></tr>{''.join(rows)}</table>")


def forgetting_section(docs: dict[str, dict]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    lines = 0
    for name, doc in docs.items():
        for a in doc["arms"]:
            if all(r["mean_forgetting"] is None for r in a["rungs"]):  # no other skill was evaluated
                continue
            ns = [r["n"] for r in a["rungs"]]
            p = ax.plot(ns, [r["mean_forgetting"] for r in a["rungs"]], "o-", label=f"{name} · {a['label']}")
            ax.plot(ns, [r["worst_forgetting"] for r in a["rungs"]], "x:", color=p[0].get_color(), label="_nolegend_")
            lines += 1
    if not lines:
        return ""
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel("accuracy change vs base")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    sizes = sorted({(len(a["rungs"][0]["forgetting"]), d["config"]["eval_n"], d["config"]["seeds"])
                    for d in docs.values() for a in d["arms"]})
    basis = "; ".join(f"{k} skill/format pairs × up to {m} items × {s} seeds (at most {k * m * s:,} scored items "
                      "per point; fewer where a format has fewer eval items)" for k, m, s in sizes)
    cap = ("Change in accuracy of every other skill and format (seed mean) against the base model, per rung: the mean over "
           f"them (solid) and the worst one (dotted). Each point rests on {basis}.")
    return "<h2 id='forgetting'>Forgetting</h2>" + _figure(_png(fig), cap, "forgetting per rung")


def noise_section(summary: dict) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    for key, color in (("curated", "#3b6fd8"), ("noisy", "#d8743b")):
        rs = summary[key]
        ax.errorbar([r["n"] for r in rs], [r["accuracy"] for r in rs],
                    yerr=[[r["accuracy"] - r["ci_low"] for r in rs], [r["ci_high"] - r["accuracy"] for r in rs]],
                    fmt="o-", color=color, capsize=3,
                    label=key if key == "curated" else f"noisy ({summary['wrong_share']:.0%} wrong answers)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    best = summary["curated_best"]
    match = summary["noisy_matching_n"]
    verdict = (f"The noisy arm first matched it at {match:,} examples." if match else
               f"The noisy arm never matched it within {summary['noisy'][-1]['n']:,} examples.")
    cap = (f"<b>{html.escape(summary['skill'])}</b>: the same prompts, once with verified answers and once with "
           f"{summary['injected_wrong']:,} of {summary['noisy_items']:,} answers made wrong on purpose. Points pool the seeds, "
           f"with Wilson 95% intervals. The curated arm's best: {best['accuracy']:.3f} [{best['ci_low']:.3f}–{best['ci_high']:.3f}] "
           f"at {best['n']:,} examples. {verdict}")
    return "<h2 id='noise'>Curated versus noisy</h2>" + _figure(_png(fig), cap, "curated versus noisy")


def summary_section(probe: dict | None, docs: dict[str, dict]) -> str:
    cards = []
    for name, doc in docs.items():
        for r in doc["recommendations"]:
            pn = r["predicted_n"] or {}
            pred = f"fit predicts {_n(pn.get('median'))} [80%: {_n(pn.get('lo80'))}–{_n(pn.get('hi80'))}]" if pn else "too few rungs to fit"
            diag = (probe or {}).get("skills", {}).get(r["skill"], {}).get("diagnosis", r.get("diagnosis"))
            if r["verdict"] == "reached":
                head = f"{r['skill']}: {r['n']:,} examples reach {r['target']:g} ({r['arm']})"
            else:
                head = f"{r['skill']}: {r['target']:g} not reached ({r['stop_reason']})"
            cards.append(
                f"<div class='card{'' if r['verdict'] == 'reached' else ' bad'}'><b>{html.escape(head)}</b><br>"
                f"<span class='sub'>ladder {html.escape(name)} · diagnosed <span class='tag {diag}'>{diag}</span> · "
                f"accuracy {r['accuracy']:.2f} [{r['ci_low']:.2f}–{r['ci_high']:.2f}] · {html.escape(pred)} · forgetting "
                + ("not measured (no other skill evaluated)" if r["forgetting"]["mean"] is None else
                   f"{r['forgetting']['mean']:+.2f} mean / {r['forgetting']['worst']:+.2f} worst")
                + " · evidence: "
                f"{r['evidence']['runs']} runs, {r['evidence']['examples_trained']:,} examples, {r['evidence']['seconds']:.0f} s</span></div>")
    return "<h2 id='recommendations'>Recommendations</h2><div class='cards'>" + "".join(cards) + "</div>" if cards else ""


def _here(run_dir: Path, p: Path) -> bool:
    """Whether the study holds the document `p`; a link to nowhere, or one that leads out of the study (a document
    of another run is not this study's), is one InputError naming it."""
    from dataladder.core.errors import InputError

    if not os.path.lexists(p):
        return False
    real, root = os.path.realpath(p), os.path.realpath(run_dir)
    if not os.path.exists(p):
        raise InputError(f"is a link to {real}, which does not exist; remove the link or rerun the step", str(p))
    if os.path.commonpath([root, real]) != root:
        raise InputError(f"leads outside the study (through a symbolic link, to {real}); a study reports only "
                         "what it holds: copy the document in, or remove the link", str(p))
    return True


def build_report(run_dir: Path) -> Path:
    """Write run_dir/report.html from the result files under run_dir; returns its path."""
    from dataladder.core.errors import InputError, not_a_dir

    run_dir = Path(run_dir)
    if why := not_a_dir(run_dir):
        raise InputError(f"{why}; give a study's output directory (what `dataladder run` or `demo` wrote)",
                         str(run_dir))
    probe_path = run_dir / "probe" / "probe.json"
    probe = read_result(probe_path, need=("skills",)) if _here(run_dir, probe_path) else None
    docs = {p.parent.name: read_result(p, need=("config", "arms", "recommendations"))
            for p in sorted((run_dir / "climbs").glob("*/ladder.json")) if _here(run_dir, p)}
    noise_path = run_dir / "noise" / "summary.json"
    noise = read_result(noise_path) if _here(run_dir, noise_path) else None
    if probe is None and not docs:
        raise ValueError(f"{run_dir}: no results to report (no probe/probe.json, no climbs/*/ladder.json)")
    others = {}  # every other document there is read and checked, whether or not its figure is beside it
    for name, document, section in _sections():
        doc_path = run_dir / name / document
        if _here(run_dir, doc_path):
            others[doc_path] = (read_result(doc_path, need=("curves",) if name == "compare" else ()), section)
    out = writable_report(run_dir)  # before the page is built: nothing drawn for a page that cannot be written
    with malformed(run_dir, "study's result files"):
        page = _page(run_dir, probe, docs, noise, others)
    tmp = out.with_name(out.name + ".tmp")
    try:  # whole or not at all: a page that cannot be written leaves no .tmp behind
        tmp.write_bytes(page.encode("utf-8", errors="replace"))  # a lone surrogate in a label: '?', not a crash
        tmp.replace(out)
    except OSError as e:
        if tmp.is_file():
            tmp.unlink()
        raise InputError(f"cannot be written ({e.strerror})", str(out)) from None
    return out


def writable_report(run_dir: Path) -> Path:
    """RUN_DIR/report.html, once it is known it can be written: not a directory there (nor its .tmp), RUN_DIR on a
    file system mounted read-write and writable by this process; else one InputError naming the path."""
    from dataladder.core.errors import InputError

    out = run_dir / "report.html"
    for p in (out, out.with_name(out.name + ".tmp")):
        if p.is_dir():
            raise InputError("is a directory; the report is written here as a file: remove or rename it", str(p))
    from dataladder.core.errors import cannot_write

    if why := cannot_write(run_dir):
        raise InputError(f"cannot write report.html here ({why}); copy the study somewhere writable and report "
                         "on the copy", str(run_dir))
    return out


def _sections() -> list:
    """(folder, document, report section) of every single-ladder kind, then compare."""
    sections = {"ladder": ladder_section, "prefs": prefs_section, "rl": rl_section}  # a kind's report section
    return [(k.dir, k.document, sections[k.section]) for k in kinds() if not k.many] + \
        [("compare", "compare.json", compare_section)]


def _page(run_dir: Path, probe: dict | None, docs: dict, noise: dict | None, others: dict) -> str:
    body = [summary_section(probe, docs)]
    if probe:
        with malformed(run_dir / "probe" / "probe.json"):  # one document's section: that file is named
            body.append(probe_section(probe))
    if docs:
        sections = []
        for n, d in docs.items():
            with malformed(run_dir / "climbs" / n / "ladder.json"):
                sections.append(climb_section(n, d) + samples_section(run_dir / "climbs" / n, d))
        body.append("<h2 id='ladders'>Ladders</h2>" + "".join(sections))
        body.append(lora_section(docs))
        body.append(forgetting_section(docs))
    if noise:
        body.append(noise_section(noise))
    for doc_path, (doc, section) in others.items():
        png = doc_path.with_suffix(".png")
        if png.exists():  # a section needs its figure
            with malformed(doc_path):
                body.append(section(doc, png))
    model = (probe or {}).get("model") or next(iter(docs.values()))["config"]["models"][0]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>dataladder report — {html.escape(model)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body><main>"
            f"<h1>How much data does {html.escape(model)} need?</h1>"
            f"<p class='sub'>dataladder study in <code>{html.escape(str(run_dir))}</code>, built {stamp} from its result files.</p>"
            + "".join(body)
            + "<footer>Every number on this page was measured in this study's runs; intervals are Wilson 95% for accuracies "
              "and 80% posterior intervals for forecast data sizes.</footer></main></body></html>")
