"""The ladder commands, plan steps and compare inputs come from the kind registry and the kinds' configs."""

import typer.main
from typer.testing import CliRunner

from dataladder.cli.derive import EXECUTOR_FIELDS
from dataladder.cli.main import app
from dataladder.ladder.kinds import kinds
from dataladder.study.plan import Plan

COMMANDS = typer.main.get_command(app).commands


def _options(cmd: str) -> set[str]:
    return {o for p in COMMANDS[cmd].params if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)}


def _field_option(kind, name: str) -> str:
    return "--" + kind.aliases.get(name, name).replace("_", "-")


def test_every_config_field_of_every_kind_is_an_option_of_its_command():
    for k in kinds():
        cfg = k.load(k.config)
        have = _options(k.cmd)
        for name, f in cfg.model_fields.items():
            if f.exclude:
                continue
            want = "--budget" if k.budget and name in (k.budget, "max_minutes") else _field_option(k, name)
            assert want in have, f"{k.cmd}: field {name} has no option {want}"
        for option in EXECUTOR_FIELDS:
            assert "--" + option.replace("_", "-") in have, (k.cmd, option)
        assert "--output-dir" in have


def test_help_shows_every_field_with_its_description_and_default():
    runner = CliRunner()
    for k in kinds():
        r = runner.invoke(app, [k.cmd, "--help"], env={"COLUMNS": "2000"})
        assert r.exit_code == 0, r.output
        text = " ".join(r.output.split())
        cfg = k.load(k.config)
        for name, f in cfg.model_fields.items():
            if f.exclude or (k.budget and name in (k.budget, "max_minutes")):
                continue
            assert _field_option(k, name) in text, (k.cmd, name)
            assert " ".join(f.description.split())[:40] in text or name in ("chat_template", "stop", "max_new_tokens"), \
                (k.cmd, name)
        assert k.title.split(":")[0] in text


def test_a_cli_default_is_the_configs_default():
    """The options carry no defaults of their own: a command run with none builds the config's defaults."""
    from dataladder.cli.derive import to_fields

    for k in kinds():
        cfg = k.load(k.config)
        params = {p.name: None for p in COMMANDS[k.cmd].params}
        assert to_fields(cfg, params, k.aliases) == {}


def test_lists_sections_and_aliases_convert():
    from dataladder.cli.derive import to_fields
    from dataladder.ladder.kinds import by_command

    sft, rl = by_command("climb"), by_command("rl")
    cfg = sft.load(sft.config)
    fields = to_fields(cfg, {"skill": ["add,mul", "div"], "lora_ranks": ["1,4", "16"], "stop": ["a,b", "\\n"],
                             "hp": ["learning_rate_full=0.0005"], "target": 0.8}, sft.aliases)
    assert fields == {"skills": ["add", "mul", "div"], "lora_ranks": [1, 4, 16], "stop": ["a,b", "\n"],
                      "hp": {"learning_rate_full": 0.0005}, "target": 0.8}
    r = to_fields(rl.load(rl.config), {"num_generations": 4, "hp": ["learning_rate=0.00001"]}, rl.aliases)
    assert r == {"hp": {"learning_rate": 0.00001, "num_generations": 4}}


def test_every_kind_has_a_plan_step_and_a_compare_input():
    for k in kinds():
        assert k.key in Plan.model_fields, k.name
        assert ("--climb" if k.many else "--" + k.key.replace("_", "-")) in _options("compare"), k.name
