"""The ladder commands, one per registered kind (`ladder/kinds.py`): `climb`, `prefs`, `rl`, `dpo`, `rm-policy`,
`icl`, and any kind registered later. Each is derived, options and all, from its kind's config (`cli/derive.py`):
the command checks what it can before any model loads, runs the kind's driver with progress bars, prints the
document and says what it wrote.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from dataladder.cli.common import (_quiet, check_writable, err_console, executor_from, parse_budget, progress, step_bar,
                                   user_errors, validated)
from dataladder.cli.derive import (BUDGET, EXECUTOR_FIELDS, PROMPT, budget_param, executor_params, field_params,
                                   output_param, sub_params, to_fields, with_signature)
from dataladder.cli.tables import console, print_prefs, print_recommendations, print_rl
from dataladder.ladder.kinds import Kind, kinds


def ladder_command(kind: Kind):
    """The command of `kind`: its config's fields as options, then check → run the driver → print."""
    from dataladder.generate import PromptOptions

    cls = kind.load(kind.config)
    budget = {kind.budget, "max_minutes"} if kind.budget else set()
    panel = lambda name: PROMPT if name in PromptOptions.model_fields else BUDGET if name in budget else None  # noqa: E731
    params = field_params(cls, kind.aliases, budget, panel) + sub_params(cls, kind.aliases)
    if kind.budget:
        params.append(budget_param(kind.unit, cls.model_fields[kind.budget].default))
    params += [output_param(Path(f"runs/{kind.cmd}"), kind.document), *executor_params()]

    @user_errors
    def command(**opts) -> None:
        output_dir = opts.pop("output_dir")
        check_writable(output_dir, "--output-dir")  # as given ('' refused), then checked and written at one place
        output_dir = Path(output_dir).expanduser()
        ex = {k: opts.pop(k) for k in EXECUTOR_FIELDS}
        fields = to_fields(cls, opts, kind.aliases)
        count, minutes = parse_budget(opts.pop("budget", None))
        fields.update({k: v for k, v in ((kind.budget, count), ("max_minutes", minutes)) if v})
        _name_the_skill(kind, fields)
        names = {k: v for k, v in kind.aliases.items() if "." not in k or opts.get(v) is not None}
        cfg = validated(cls, fields, {**({kind.budget: "budget"} if kind.budget else {}), **names})  # max_shots: --budget
        if getattr(cfg, "models", None) == []:  # `--model ''`
            raise ValueError("--model: no model given; give at least one base model (default tiny-arith)")
        from dataladder.models.hub import check_model

        for m in _models(cfg):
            check_model(m)
        if (check := kind.load("check_config")) is not None:
            check(cfg)
        from dataladder.executors.ray import RayOptions

        ray = lambda k: RayOptions.model_fields[k].default if ex[k] is None else ex[k]  # noqa: E731  not given: the default
        executor = executor_from(ex["executor"] or "local", ex["ray_address"], ray("cpus_per_run"), ray("gpus_per_run"),
                                 ex["threads_per_run"], ex["workers"])
        _quiet()
        if (before := BEFORE.get(kind.name)) is not None:
            before(cfg)
        else:  # every check passed; the first model load takes seconds: say so at once (climb: its estimate)
            err_console.print(f"{kind.cmd}: loading {_loading(kind, cfg)} …", highlight=False, markup=False,
                              soft_wrap=True)
        with progress() as bar:  # training steps and eval items within a rung: a bar, or plain lines in a log
            on_train, on_rung = step_bar(bar, f"{kind.unit} ladder: training steps")
            evals = bar.add_task("evaluation items", total=None, visible=False)

            def on_eval(k: int) -> None:
                bar.update(evals, advance=k, visible=True)

            def on_line(line: str) -> None:
                bar.update(evals, visible=False, completed=0)
                on_rung(line)

            doc = kind.load(kind.driver)(cfg, output_dir, on_rung=on_line, on_train=on_train, on_eval=on_eval,
                                         executor=executor)
        PRINTERS.get(kind.name, print_ladder)(doc)
        made = [p for p in (output_dir / kind.document, (output_dir / kind.document).with_suffix(".png")) if p.exists()]
        console.print("wrote " + " and ".join(map(str, made)), highlight=False)

    command.__name__ = command.__qualname__ = kind.cmd.replace("-", "_")
    command.__doc__ = kind.title
    return with_signature(command, params)


def _models(cfg) -> list[str]:
    return list(getattr(cfg, "models", None) or ([cfg.model] if isinstance(getattr(cfg, "model", None), str) else []))


def _loading(kind: Kind, cfg) -> str:
    """What the command loads first: its models, else the model of the run it reads (rm-policy: --prefs)."""
    return ", ".join(_models(cfg)) or "the model of " + " and ".join(str(getattr(cfg, n)) for n in kind.needs)


def _name_the_skill(kind: Kind, fields: dict) -> None:
    """A user's model names its skill: the config's default is the shipped tiny-arith's."""
    if kind.skill_field is None or fields.get(kind.skill_field):
        return
    models = fields.get("models") or [fields.get("model") or "tiny-arith"]
    if set(models) != {"tiny-arith"}:
        from dataladder.models.hub import check_model

        for m in models:  # a misspelt or missing model is the problem to name first
            check_model(m)
        option = kind.aliases.get(kind.skill_field, kind.skill_field).replace("_", "-")
        raise ValueError(f"--{option}: name the skill, e.g. --{option} tasks.jsonl:code ({kind.default_skill} is the "
                         "default only for the shipped tiny-arith)")


def print_ladder(doc: dict) -> None:
    """Any kind's document (the engine's shape): the score by rung, the forecast and the stop."""
    unit = doc.get("unit", "n")
    t = Table(title=f"{doc.get('label', doc['kind'])} on {doc.get('skill', '')}: {doc.get('metric', 'accuracy')}",
              caption="accuracy [Wilson 95%] pooled over seeds")
    for c in (unit, "accuracy"):
        t.add_column(c, justify="right")
    b = doc["base"]
    t.add_row("0 (base)", f"{b['accuracy']:.3f} [{b['ci_low']:.2f}–{b['ci_high']:.2f}]")
    for r in doc["rungs"]:
        t.add_row(f"{r['n']:,}", "unsound" if r.get("unsound") else
                  f"{r['accuracy']:.3f} [{r['ci_low']:.2f}–{r['ci_high']:.2f}]")
    console.print(t)
    _forecast_lines(doc, unit)


def _forecast_lines(doc: dict, unit: str) -> None:
    fmt_n = lambda v: "∞" if v is None else f"{v:,.0f}"  # noqa: E731
    if doc.get("fit"):
        nt = doc["fit"]["n_target"]
        console.print(f"{unit} to reach {doc['config']['target']:g}: {fmt_n(nt['median'])} [80%: {fmt_n(nt['lo80'])}–"
                      f"{fmt_n(nt['hi80'])}], P(reachable) {doc['fit']['p_reachable']:.2f}", highlight=False)
    if sat := doc.get("saturation"):
        console.print(f"saturation (10× more {unit} gains < {sat['delta']:g}): {fmt_n(sat['median'])} {unit} "
                      f"[80%: {fmt_n(sat['lo80'])}–{fmt_n(sat['hi80'])}]", highlight=False)
    console.print(f"stop: {doc['stop']['reason']}; reached at: {doc['reached_at'] or '—'}; {doc['seconds']:.0f} s",
                  highlight=False)


def print_dpo(doc: dict) -> None:
    """dpo.json: the policy's accuracy by pair count, forgetting, forecast, saturation and stop."""
    t = Table(title=f"DPO on {doc['skill']} ({doc['format']} format): the policy's greedy accuracy by pair count",
              caption="accuracy [Wilson 95%] pooled over seeds; forgetting = worst change in the skill's other formats")
    for c in ("pairs", "accuracy", "worst forgetting", "DPO preference accuracy (train)"):
        t.add_column(c, justify="right")
    b = doc["base"]
    t.add_row("0 (base)", f"{b['accuracy']:.3f} [{b['ci_low']:.2f}–{b['ci_high']:.2f}]", "", "")
    for r in doc["rungs"]:
        pa = [x for x in r["preference_accuracy"] if x is not None]
        t.add_row(f"{r['n']:,}", f"{r['accuracy']:.3f} [{r['ci_low']:.2f}–{r['ci_high']:.2f}]",
                  "—" if r["worst_forgetting"] is None else f"{r['worst_forgetting']:+.3f}",
                  f"{sum(pa) / len(pa):.3f}" if pa else "—")
    console.print(t)
    _forecast_lines(doc, "pairs")


def print_rm_policy(doc: dict) -> None:
    c = doc["verifier_ceiling"]
    for r in doc["rungs"]:
        console.print(f"{r['n']:>7,} pairs: reward model {r['reward_model_heldout_accuracy']:.3f} held-out → policy "
                      f"{r['accuracy']:.3f} [{r['ci_low']:.3f}–{r['ci_high']:.3f}] verified", highlight=False)
    console.print(f"before RL {doc['base']['accuracy']:.3f}; the verifier as reward ({doc['config']['steps']} steps): "
                  f"{c['accuracy']:.3f} [{c['ci_low']:.3f}–{c['ci_high']:.3f}]; stop: {doc['stop']['reason']}",
                  highlight=False)


def _estimate(cfg) -> None:
    from dataladder.ladder.estimate import estimate_climb

    if (est := estimate_climb(cfg)) is not None:  # before the first rung: the plan's time, from the model's size
        console.print(est.line(), highlight=False)


PRINTERS = {"sft": print_recommendations, "reward": print_prefs, "rl": print_rl, "dpo": print_dpo, "rm-policy": print_rm_policy}
BEFORE = {"sft": _estimate}


def commands() -> list:
    """Every registered kind's command."""
    return [ladder_command(k) for k in kinds()]
