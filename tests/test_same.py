"""The documents comparison of tests/same.py: losses to 1e-5, everything else exactly."""

import pytest

from tests.same import assert_same


def test_floats_agree_to_a_tolerance_and_nothing_else_does():
    a = {"rungs": [{"n": 16, "correct": 3, "train_loss": [4.280128240585327], "run_dirs": ["runs/ab"]}]}
    assert_same(a, {"rungs": [{"n": 16, "correct": 3, "train_loss": [4.280128161112468], "run_dirs": ["runs/ab"]}]})
    for other, where in [
        ({"rungs": [{"n": 16, "correct": 4, "train_loss": [4.280128240585327], "run_dirs": ["runs/ab"]}]}, "correct"),
        ({"rungs": [{"n": 16, "correct": 3, "train_loss": [4.29], "run_dirs": ["runs/ab"]}]}, "train_loss"),
        ({"rungs": [{"n": 16, "correct": 3, "train_loss": [4.280128240585327], "run_dirs": ["runs/cd"]}]}, "run_dirs"),
        ({"rungs": [{"n": 16, "correct": 3, "train_loss": [4.280128240585327]}]}, "keys"),
        ({"rungs": []}, "items"),
    ]:
        with pytest.raises(AssertionError, match=where):
            assert_same(a, other)
