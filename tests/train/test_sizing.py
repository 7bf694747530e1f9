"""Hyperparameter defaults by model size (train/sizing.py): the shipped model keeps its measured values, so its
run-store keys are unchanged; a pretrained model gets the library's; a value the user gives is kept."""

from dataladder.train.dpo import DPOHparams
from dataladder.train.grpo import GRPOHparams
from dataladder.train.reward import RewardHparams
from dataladder.train.sft import SFTHparams
from dataladder.train.sizing import param_count, resolve, size_class

TINY_SFT = {"batch_size": 16, "epochs": 3.0, "learning_rate_full": 3e-4, "learning_rate_lora": 4e-3,
            "lora_alpha_ratio": 2.0, "lora_dropout": 0.0, "max_length": 256, "max_steps": 2000, "min_steps": 60,
            "warmup_ratio": 0.1, "weight_decay": 0.0}


def test_the_shipped_model_keeps_the_values_its_runs_were_stored_under():
    n = param_count("tiny-arith")
    assert n == 1_062_528 and size_class(n) == "tiny"
    assert resolve(SFTHparams(), "sft", n).model_dump() == TINY_SFT
    assert resolve(RewardHparams(), "reward", n).learning_rate == 3e-3
    assert resolve(DPOHparams(), "dpo", n).learning_rate_lora == 5e-3
    assert resolve(GRPOHparams(), "grpo", n).learning_rate == 2e-5


def test_pretrained_models_get_rates_an_order_of_magnitude_lower_and_fewer_steps():
    small, large = resolve(SFTHparams(), "sft", 135_000_000), resolve(SFTHparams(), "sft", 1_500_000_000)
    assert small.learning_rate_lora == 5e-4 and large.learning_rate_lora == 2e-4
    assert small.learning_rate_full == large.learning_rate_full == 2e-5
    assert small.min_steps == 10 and small.batch_size == 8 and small.steps_for(20) == 10
    assert resolve(RewardHparams(), "reward", 135_000_000).learning_rate_lora == 1e-4
    assert resolve(GRPOHparams(), "grpo", None).learning_rate == 1e-6  # an unknown size takes the lowest rates


def test_a_value_the_user_gives_is_kept_and_an_unresolved_one_is_never_trained_with():
    hp = resolve(SFTHparams(learning_rate_lora=1e-4, min_steps=3), "sft", 135_000_000)
    assert hp.learning_rate_lora == 1e-4 and hp.min_steps == 3 and hp.learning_rate_full == 2e-5
    import pytest

    with pytest.raises(ValueError, match="not resolved"):
        SFTHparams().steps_for(20)


def test_the_rung_configs_of_a_climb_hold_the_resolved_numbers():
    from dataladder.ladder.climb import ClimbConfig, rung_config
    from dataladder.train.sizing import resolve_cfg

    cfg = resolve_cfg(ClimbConfig(skills=["add"]), "sft", "tiny-arith")
    assert rung_config("fp", cfg, "add", None, 20, 0)["hp"] == TINY_SFT
