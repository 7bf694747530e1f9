from pathlib import Path

import pytest
import yaml

from dataladder.config import load_yaml_model
from dataladder.errors import InputError
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
