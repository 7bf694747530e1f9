import math

import numpy as np

from dataladder.forecast.model import forecast
from dataladder.ladder.fit import fit_curve, summarize_fit

RUNGS = [20, 40, 80, 160, 320, 640, 1280]


def power(n, A=0.9, B=2.0, beta=0.5, n0=10.0):
    return A - B * (n + n0) ** -beta


def logistic(n, k=0.8, m=math.log(400)):
    return 1 / (1 + np.exp(-k * (np.log(n) - m)))


def points(curve, m, seeds=2, rng=None, rungs=RUNGS):
    rng = rng or np.random.default_rng(0)
    return [(n, int(rng.binomial(m, min(1, max(0, curve(n))))), m) for n in rungs for _ in range(seeds)]


def test_logistic_curve_forecast_far_past_the_data_covers_the_truth():
    # truth for 0.9: log(n) = log(400) + logit(0.9)/0.8  →  n ≈ 6,230, 4.9× past the last rung
    truth = 400 * math.exp(math.log(9) / 0.8)
    fit = fit_curve(points(logistic, 2000), target=0.9)
    lo, med, hi = fit.n_target_interval(0.8)
    assert lo <= truth <= hi and hi / lo < 20 and abs(math.log10(med / truth)) < math.log10(2)
    assert fit.p_reachable() > 0.9


def test_noisy_curves_get_wider_intervals():
    clean = fit_curve(points(logistic, 5000, rng=np.random.default_rng(1)), target=0.9)
    noisy = fit_curve(points(logistic, 40, rng=np.random.default_rng(1)), target=0.9)
    assert noisy.noise > 10 * clean.noise
    width = lambda f: np.mean(f.quantiles([0.9])[0] - f.quantiles([0.1])[0])  # noqa: E731
    assert width(noisy) > 1.5 * width(clean)
    lo_c, _, hi_c = clean.n_target_interval()
    lo_n, _, hi_n = noisy.n_target_interval()
    assert hi_n / lo_n > hi_c / lo_c


def test_a_plateau_below_the_target_is_unreachable():
    fit = fit_curve(points(lambda n: power(n, A=0.6), 2000), target=0.9)
    assert fit.p_reachable(10_000) < 0.1
    assert fit.n_target_interval()[1] > 1000 * 1280  # the median says: a thousand times more data, or never


def test_one_or_two_rungs_give_an_honest_wide_answer():
    one = fit_curve(points(logistic, 500, rungs=[40]), target=0.9)
    lo, med, hi = one.n_target_interval()
    assert not math.isfinite(hi) or hi / lo > 100
    assert any("prior" in n for n in one.notes)
    three = fit_curve(points(logistic, 500, rungs=[40, 80, 160]), target=0.9)
    lo3, _, hi3 = three.n_target_interval()
    assert math.isfinite(hi3) and math.log(hi3 / lo3) < math.log(hi / lo)


def test_loss_curve_forecast_sixteen_times_past_the_last_rung():
    rng = np.random.default_rng(3)
    loss = lambda n: 3.0 * n ** -0.3  # noqa: E731
    n = np.repeat([100, 200, 400, 800, 1600], 2).astype(float)
    y = loss(n) * np.exp(rng.normal(0, 0.01, len(n)))
    f = forecast(n, y, direction="lower", bounds=None)
    assert f.link.kind == "log"
    lo, med, hi = f.band(1600 * 16)
    assert lo <= loss(1600 * 16) <= hi and abs(med / loss(1600 * 16) - 1) < 0.05
    assert (f.gain_next_doubling(1600) > 0).mean() > 0.9  # a falling loss improves


def test_same_points_same_forecast_and_summary_is_json_ready():
    a = fit_curve(points(logistic, 1000), target=0.8, seed=4)
    b = fit_curve(points(logistic, 1000), target=0.8, seed=4)
    assert a.n_target_interval() == b.n_target_interval()
    s = summarize_fit(a, 1280, 100_000)
    assert s["n_target"]["median"] and 0 <= s["p_reach_within_budget"] <= s["p_reachable"] <= 1
    assert len(s["curve"]["n"]) == len(s["curve"]["median"])
