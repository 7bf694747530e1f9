"""Report sections of the single-ladder documents (`ladder/engine.py`): prefs, rl, dpo, rm-policy and
compare, and the rung table every kind shares. `report.html` assembles them (`report/html.py`)."""

from __future__ import annotations

import base64
import html
from pathlib import Path


def _figure(src: str, caption: str, alt: str) -> str:
    return f'<figure><img src="{src}" alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>'


def _file_png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _saturation_text(sat: dict | None, unit: str) -> str:
    if not sat:
        return "No saturation point (too few rungs to fit)"
    show = lambda v: f"{v:,.0f}" if v else "∞"  # noqa: E731  (None: the data cannot bound it)
    return (f"Saturation point (10× more {unit} gains less than {sat['delta']:g}): {show(sat.get('median'))} {unit} "
            f"[80%: {show(sat.get('lo80'))}–{show(sat.get('hi80'))}]")


def prefs_section(doc: dict, png: Path) -> str:
    last = doc["rungs"][-1]
    held = doc["heldout"]
    by = last.get("by_source", {})
    unseen = ", ".join(f"{s} {by[s]['accuracy']:.3f} [{by[s]['ci_low']:.3f}–{by[s]['ci_high']:.3f}]"
                       for s in held.get("unseen_sources", []) if s in by)
    cap = (f"Held-out pairwise accuracy of reward models for <b>{html.escape(doc['skill'])}</b> trained on "
           f"{', '.join(held['train_sources'])} pairs, {len(doc['rungs'])} rungs up to {last['n']:,} pairs; "
           f"{last['total']:,} held-out judgements at the last rung, accuracy {last['accuracy']:.3f} "
           f"[{last['ci_low']:.3f}–{last['ci_high']:.3f}] (Wilson 95%)"
           + (f"; pairs from sources never trained on: {html.escape(unseen)}" if unseen else "")
           + f". {_saturation_text(doc.get('saturation'), 'pairs')}. Stop: {html.escape(doc['stop']['reason'])}.")
    return ("<h2 id='prefs'>Preference pairs: reward models</h2>" + _figure(_file_png(png), cap, "reward model ladder")
            + rungs_table(doc))


def rl_section(doc: dict, png: Path) -> str:
    b, a, z, cs = doc["before"], doc["after"], doc["zero_signal"], doc.get("cold_start")
    first = (cs or {}).get("formats_before", doc["base_formats"])
    cold = ""
    if cs:
        f0 = cs["formats_before"][doc["format"]]
        why = ("The zero-signal check warned on the base model ({:.3f} greedy), so RL started from a cold start"
               if cs["reason"].startswith("auto") else "RL started from a requested cold start (base model {:.3f} greedy)")
        cold = why.format(f0["accuracy"]) + f": SFT on {cs['verified']} verified examples. "
    cap = (f"GRPO on <b>{html.escape(doc['skill'])}</b> ({html.escape(doc['format'])} format). {cold}Greedy accuracy on "
           f"{doc['eval']['n']} held-out items: {b['accuracy']:.3f} [{b['ci_low']:.3f}–{b['ci_high']:.3f}] before RL, "
           f"{a['accuracy']:.3f} [{a['ci_low']:.3f}–{a['ci_high']:.3f}] after {a['rollouts']:,} rollouts"
           + (" (intervals apart)" if doc.get("improved") else " (intervals overlap)")
           + "".join(f"; {html.escape(f)} format {first[f]['accuracy']:.3f} → {e['accuracy']:.3f} (base → after)"
                     for f, e in doc.get("after_formats", {}).items() if f != doc["format"])
           + f". Zero-signal share of groups: predicted {z['predicted']:.2f}, observed {z['early']:.2f} over the first "
           f"{z['early_steps']} steps" + ("" if doc["config"].get("reward_model") is None else
                                          " (predicted for the verifier's 0/1 reward; the reward model's scores tie "
                                          "only on identical completions)")
           + f". {_saturation_text(doc.get('saturation'), 'rollouts')}. "
           f"Stop: {html.escape(doc['stop']['reason'])}.")
    return "<h2 id='rl'>RL: rollouts</h2>" + _figure(_file_png(png), cap, "rollout ladder") + rungs_table(doc)


KIND_TITLES = {"sft": "Supervised examples", "reward": "Preference pairs: reward models", "rl": "RL: rollouts",
               "dpo": "DPO: preference pairs for the policy",
               "rm-policy": "Reward model → policy: pairs behind the reward model against the policy RL makes"}


def rungs_table(doc: dict) -> str:
    """Any kind's ladder document (`ladder/engine.py`) as a table: each rung's score with its interval and the
    forecast of the size that reaches the target made after it, against what the ladder finally measured."""
    unit, target = doc.get("unit", "examples"), doc["config"]["target"]
    show = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    rows = []
    for r in doc["rungs"]:
        fc = (r.get("forecast") or {}).get("n_target")
        rows.append(f"<tr><td>{r['n']:,}</td><td>{r['accuracy']:.3f} [{r['ci_low']:.3f}–{r['ci_high']:.3f}]</td>"
                    f"<td>{len(r.get('seeds') or [])}</td><td>{show(fc['median']) + ' [' + show(fc['lo80']) + '–' + show(fc['hi80']) + ']' if fc else '—'}</td></tr>")
    b = doc["base"]
    final = (f"reached {target:g} at {doc['reached_at']:,} {unit}" if doc.get("reached_at")
             else f"not reached by {doc['rungs'][-1]['n']:,} {unit} ({doc['stop']['reason']})")
    return (f"<table><tr><th>{html.escape(unit)}</th><th>score [95%]</th><th>seeds</th><th>forecast {html.escape(unit)} "
            f"for ≥ {target:g} after this rung [80%]</th></tr><tr><td>0 (base)</td><td>{b['accuracy']:.3f}</td><td></td>"
            f"<td></td></tr>{''.join(rows)}</table><p class='sub'>What the ladder finally measured: {final}.</p>")


def ladder_section(doc: dict, png: Path) -> str:
    """The report section of any single-ladder document (dpo.json, and any kind added later)."""
    kind = doc.get("kind", "")
    last, b = doc["rungs"][-1], doc["base"]
    forget = last.get("worst_forgetting")
    cap = (f"{html.escape(doc.get('metric', 'score'))} on <b>{html.escape(str(doc.get('skill', '')))}</b>: "
           f"{b['accuracy']:.3f} before, {last['accuracy']:.3f} [{last['ci_low']:.3f}–{last['ci_high']:.3f}] after "
           f"{last['n']:,} {doc['unit']} ({len(doc['rungs'])} rungs)"
           + (f"; worst change in another format {forget:+.3f}" if forget is not None else "")
           + (f"; the verifier as the RL reward, same steps (the ceiling): {doc['verifier_ceiling']['accuracy']:.3f} "
              f"[{doc['verifier_ceiling']['ci_low']:.3f}–{doc['verifier_ceiling']['ci_high']:.3f}]"
              if doc.get("verifier_ceiling") else "")
           + f". {_saturation_text(doc.get('saturation'), doc['unit'])}. Stop: {html.escape(doc['stop']['reason'])}.")
    return (f"<h2 id='{html.escape(kind)}'>{html.escape(KIND_TITLES.get(kind, kind))}</h2>"
            + _figure(_file_png(png), cap, f"{kind} ladder") + rungs_table(doc))


def compare_section(doc: dict, png: Path) -> str:
    parts = [f"{html.escape(c['label'])}: {html.escape(c['metric'])}, {len(c['points'])} rungs"
             for c in doc["curves"]]
    cap = ("Supervised examples, preference pairs and rollouts on one log axis, each against the score it reaches; "
           "markers are saturation points (" + html.escape(doc["saturation_rule"]) + "). " + "; ".join(parts) + ".")
    return "<h2 id='compare'>Examples, pairs and rollouts</h2>" + _figure(_file_png(png), cap, "one comparison")
