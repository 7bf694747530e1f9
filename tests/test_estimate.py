"""The climb's time estimate is arithmetic on the plan and the model's size (no model is loaded)."""

import math

import pytest

from dataladder.ladder.estimate import FIGURES, estimate, seconds_per_item, seconds_per_sequence
from dataladder.train.sft import SFTHparams

TINY, SMOL = FIGURES[0][0], FIGURES[1][0]


def hp(min_steps=10, batch_size=8, **kw):
    return SFTHparams(min_steps=min_steps, batch_size=batch_size, learning_rate_full=1e-5, learning_rate_lora=1e-4,
                      **kw)


def test_rates_match_the_measured_figures_and_scale_with_size():
    assert seconds_per_sequence(SMOL, "lora") == pytest.approx(0.45)
    assert seconds_per_sequence(SMOL, "full") == pytest.approx(0.9)  # full about twice LoRA from 30M
    assert seconds_per_sequence(TINY, "full") == seconds_per_sequence(TINY, "lora") == pytest.approx(0.0073)
    assert seconds_per_item(SMOL) == pytest.approx(0.2) and seconds_per_item(TINY) == pytest.approx(1 / 400)
    assert seconds_per_sequence(10 * SMOL) == pytest.approx(4.5)  # linear beyond the largest figure
    mid = seconds_per_sequence(int(math.sqrt(TINY * SMOL)))  # log-log between them: the geometric mean
    assert mid == pytest.approx(math.sqrt(0.0073 * 0.45), rel=1e-3)


def test_seconds_are_runs_times_steps_and_eval_items():
    h = hp()
    # one model, one skill with rungs 10 and 40 (10 steps, then 3·40/8 = 15), 2 seeds, 3 LoRA ranks, 30 eval items
    est = estimate([SMOL], [h], "lora", ranks=3, seeds=2, rungs=[[10, 40]], eval_items=30, min_rungs=1, eval_n=30)
    train = (10 + 15) * 8 * 0.45
    ev = 30 * 0.2
    assert est.seconds == pytest.approx(ev + 3 * 2 * (train + 2 * ev))  # base eval + ranks × seeds × rungs
    assert est.min_seconds == pytest.approx(ev + 3 * 2 * (10 * 8 * 0.45 + ev))  # the first rung only
    assert (est.runs, est.rungs, est.steps, est.eval_items) == (12, 2, (10, 15), 30)
    # a time budget caps each arm
    capped = estimate([SMOL], [h], "lora", 3, 2, [[10, 40]], 30, 1, max_minutes=1)
    assert capped.seconds == pytest.approx(ev + 3 * 60)


def test_line_says_it_is_an_estimate_and_names_the_cuts_past_an_hour():
    short = estimate([TINY], [hp(60, 16)], "full", 1, 1, [[20]], 20, 4)
    assert short.seconds < 60 and "Over an hour" not in short.line() and "order of magnitude" in short.line()
    long = estimate([SMOL], [hp()], "lora", 3, 2, [[20, 40, 80, 160, 320, 640, 1280, 2560, 5120]], 400, 4, eval_n=200)
    line = long.line()
    assert long.seconds > 3600 and "h " in line and "Over an hour" in line
    for opt in ("--seeds 1", "--lora-ranks 8", "--eval-n 50", "--budget", "--hp min_steps=5"):
        assert opt in line
    assert "measured on 2 shared cores" in line and "135M parameters" in line


def test_estimate_of_a_climb_config_reads_sizes_not_weights():
    from dataladder.ladder.climb import ClimbConfig
    from dataladder.ladder.estimate import estimate_climb

    est = estimate_climb(ClimbConfig(skills=["add"], eval_skills=["add", "mul"], eval_n=10, seeds=1,
                                     max_examples=40), pools={"add": 40})
    assert est.runs == 2 and est.eval_items == 40 and est.steps == (60, 60)  # 20 and 40 examples; 2 skills × 2 formats
    assert est.params == (TINY,)


def test_the_re_estimate_scales_by_the_base_evals_measured_speed():
    from dataladder.ladder.climb import ClimbConfig
    from dataladder.ladder.estimate import _human, estimate_climb, remeasured_line

    cfg = ClimbConfig(skills=["add"], eval_skills=["add", "mul"], eval_n=10, seeds=1, max_examples=40)
    est = estimate_climb(cfg, pools={"add": 40})
    at_figure = est.eval_items * seconds_per_item(TINY)
    line = remeasured_line(cfg, {"add": 40}, [{"eval_seconds": 3 * at_figure}])  # generation 3× slower here
    assert 0 < est.eval_seconds < est.seconds and 0 < est.min_eval_seconds <= est.min_seconds
    assert "3× the figure's time" in line and f"up to {_human(est.seconds + 2 * est.eval_seconds)}" in line
    assert remeasured_line(cfg, {"add": 40}, [{"eval_seconds": at_figure}]).count(_human(est.seconds)) >= 1
    assert remeasured_line(cfg, {"add": 40}, [{}]) is None  # a base eval stored before it was timed
