from pathlib import Path

import pytest
import yaml

from dataladder.core.config import load_yaml_model
from dataladder.core.errors import InputError
from dataladder.ladder.climb import ClimbConfig
from dataladder.models.pretrain import PretrainConfig

SHIPPED = Path(__file__).parents[1] / "dataladder" / "models" / "tiny-arith" / "pretrain.yaml"


def test_typo_names_key_and_nearest(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("steps: 10\narch:\n  hiden_size: 64\n")
    with pytest.raises(InputError) as e:
        load_yaml_model(PretrainConfig, p)
    assert "arch.hiden_size" in str(e.value) and "did you mean 'hidden_size'" in str(e.value) and str(p) in str(e.value)


def test_wrong_type_names_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("target: high\n")
    with pytest.raises(InputError, match="key 'target'"):
        load_yaml_model(ClimbConfig, p)


def test_shipped_recipe_loads_and_round_trips():
    cfg = load_yaml_model(PretrainConfig, SHIPPED)
    assert yaml.safe_load(SHIPPED.read_text()) == cfg.model_dump()


def test_every_plan_under_configs_validates():
    from dataladder.study.plan import load_plan

    plans = sorted((Path(__file__).parents[1] / "configs").rglob("*.yaml"))
    assert plans
    for p in plans:
        plan = load_plan(p)
        assert plan.climbs or plan.curated_vs_noisy, p


def test_plan_typo_fails_before_work_naming_key_and_nearest(tmp_path):
    from dataladder.study.plan import load_plan

    p = tmp_path / "plan.yaml"
    p.write_text("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n    tragett: 0.9\n")
    with pytest.raises(InputError) as e:
        load_plan(p)
    assert "climbs.0.tragett" in str(e.value) and "did you mean 'target'" in str(e.value)
    p.write_text("modle: tiny-arith\n")
    with pytest.raises(InputError, match="did you mean 'model'"):
        load_plan(p)


def test_plan_overrides(tmp_path):
    from dataladder.study.plan import load_plan

    p = tmp_path / "plan.yaml"
    p.write_text("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n")
    plan = load_plan(p, ["output_dir=runs/x", "climbs.0.target=0.8", "probe.n=50"])
    assert plan.output_dir == "runs/x" and plan.climbs[0].target == 0.8 and plan.probe.n == 50
    with pytest.raises(InputError, match="key 'climbs.0.target'"):
        load_plan(p, ["climbs.0.target=high"])
    # an override that does not fit names itself and the list or value it missed
    with pytest.raises(InputError, match=r"plan.yaml: override 'climbs.3.target=0.8': climbs is a list of 1; '3' is not an index 0–0"):
        load_plan(p, ["climbs.3.target=0.8"])
    with pytest.raises(InputError, match=r"override 'output_dir.x=1': output_dir is a value"):
        load_plan(p, ["output_dir=runs/x", "output_dir.x=1"])
    # a key or value the plan file does not have: the override that brought it is named, not only the file
    with pytest.raises(InputError, match=r"plan.yaml: override 'climbs.0.tragt=0.8': key 'climbs.0.tragt': unknown "
                                         r"key 'tragt'; did you mean 'target'"):
        load_plan(p, ["climbs.0.tragt=0.8"])
    with pytest.raises(InputError, match=r"override 'probe.n=0': key 'probe.n': Input should be greater"):
        load_plan(p, ["probe.n=0"])
    p.write_text("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n    target: 7\n")
    with pytest.raises(InputError, match=r"^[^ ]*plan.yaml:5: key 'climbs.0.target': Input should be less"):
        load_plan(p, ["probe.n=50"])  # the file's own error stays the file's


def test_plan_compare_names_a_climb_and_needs_two_curves(tmp_path):
    from dataladder.study.plan import load_plan
    from dataladder.core.errors import InputError

    path = tmp_path / "plan.yaml"
    path.write_text("climbs:\n  - name: mul-full\n    skills: [mul]\nrl: {skill: mul}\ncompare: {climb: mul-ful}\n")
    with pytest.raises(InputError, match=r"field 'compare.climb'.*did you mean 'mul-full'"):
        load_plan(path)
    path.write_text("climbs:\n  - name: mul-full\n    skills: [mul]\ncompare: {climb: mul-full}\n")
    with pytest.raises(InputError, match="needs two of"):
        load_plan(path)
    path.write_text("climbs:\n  - name: mul-full\n    skills: [mul]\nprefs: {skill: mul}\ncompare: {climb: mul-full}\n")
    plan = load_plan(path)
    assert plan.prefs.model is None and plan.compare.climb == "mul-full"


PLAN_LINES = [  # (plan text, overrides, the line the error names, or None: an override's, not the file's)
    ("model: tiny-arith\nprobe:\n  n: true\n", [], 3),
    ("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n  - name: b\n    skills: [add]\n    target: 7\n",
     [], 7),
    ("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n  - name: a\n    skills: [add]\n", [], 5),
    ("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\ncompare:\n  climb: b\n", [], 6),
    ("model: /my/model\nclimbs:\n  - name: a\n    target: 0.8\n", [], 3),  # no skills: the climb that lacks them
    ("d: &d {skills: [add], target: 0.8}\nmodel: tiny-arith\nclimbs:\n  - <<: *d\n    name: a\n    tragt: 1\n", [], 6),
    ("model: tiny-arith\nclimbs:\n  - name: a\n    skills: [add]\n    target: 0.8\n", ["climbs.0.target=7"], None),
]


@pytest.mark.parametrize("text, overrides, line", PLAN_LINES)
def test_a_plans_error_names_the_line_the_file_writes_the_key_on(tmp_path, text, overrides, line):
    from dataladder.study.plan import load_plan

    p = tmp_path / "plan.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_plan(p, overrides)
    assert e.value.line == line and str(e.value).startswith(f"{p}:{line}: " if line else f"{p}: "), str(e.value)


def test_a_pretrain_configs_error_names_its_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("steps: 10\narch:\n  hidden_size: 64\n  hiden_size: 64\n")
    with pytest.raises(InputError) as e:
        load_yaml_model(PretrainConfig, p)
    assert str(e.value).startswith(f"{p}:4: key 'arch.hiden_size'")


def test_key_lines_stay_bounded_on_aliases_of_aliases(tmp_path):
    from dataladder.core.config import MAX_WALK, yaml_lines

    rows = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    p = tmp_path / "laughs.yaml"
    p.write_text("\n".join(rows) + "\n")
    lines = yaml_lines(p)
    assert len(lines) <= MAX_WALK + 9 and lines[("a0",)] == 1 and lines[("a8",)] == 9
