import math

import numpy as np

from dataladder.ladder.fit import FAMILIES, fit_curve, fit_family, predict

RUNGS = [20, 40, 80, 160, 320, 640, 1280]


def power(n, A=0.9, B=2.0, beta=0.5, n0=10.0):
    return A - B * (n + n0) ** -beta


def points(curve, m, seeds=2, rng=None):
    rng = rng or np.random.default_rng(0)
    return [(n, int(rng.binomial(m, min(1, max(0, curve(n))))), m) for n in RUNGS for _ in range(seeds)]


def test_power_law_recovers_known_parameters():
    x = np.array(RUNGS, float)
    p = fit_family(FAMILIES[1], x, power(x), polish=True)
    assert abs(p[0] - 0.9) < 0.01 and abs(p[2] - 0.5) < 0.01 and abs(p[3] - 10) < 0.5
    assert np.allclose(predict(FAMILIES[1], p, x), power(x), atol=1e-4)


def test_ensemble_predicts_data_needed_and_prefers_the_true_family():
    # true n for 0.8: 0.9 - 2 (n+10)^-0.5 = 0.8  →  n = 390
    fit = fit_curve(points(power, 100_000), target=0.8, n_boot=100)
    lo, med, hi = fit.n_target_interval(0.8)
    assert lo <= 390 <= hi and abs(math.log10(med / 390)) < 0.1
    assert fit.weights["power-law"] > fit.weights["log-linear"]
    assert fit.p_reachable() > 0.95


def test_noisy_curves_get_wider_intervals():
    clean = fit_curve(points(power, 5000, rng=np.random.default_rng(1)), target=0.8, n_boot=100)
    noisy = fit_curve(points(power, 40, rng=np.random.default_rng(1)), target=0.8, n_boot=100)
    width = lambda f: np.mean(f.quantiles([0.9])[0] - f.quantiles([0.1])[0])  # noqa: E731
    assert width(noisy) > 2 * width(clean)
    lo_c, _, hi_c = clean.n_target_interval()
    lo_n, _, hi_n = noisy.n_target_interval()
    assert math.log(hi_n / lo_n) > math.log(hi_c / lo_c)


def test_unreachable_target_has_low_probability():
    fit = fit_curve(points(lambda n: power(n, A=0.6), 2000), target=0.9, n_boot=100)
    assert fit.p_reachable(10_000) < 0.1
    # "at all" keeps the log-linear family's share: it never saturates, and honesty says so
    assert fit.p_reachable() < 0.25


def test_log_linear_data_prefers_log_linear():
    fit = fit_curve(points(lambda n: 0.1 * math.log2(n / 10), 50_000), target=0.75, n_boot=50)
    assert max(fit.weights, key=fit.weights.get) == "log-linear"
    assert abs(math.log10(fit.n_target_interval()[1] / 10 / 2**7.5)) < 0.1  # truth: 0.1·log2(n/10) = 0.75


def test_sigmoid_family_recovers_its_curve():
    sig = lambda n: 0.05 + 0.9 / (1 + np.exp(-3 * (np.log(n) - math.log(150))))  # noqa: E731
    x = np.array(RUNGS, float)
    p = fit_family(FAMILIES[2], x, sig(x), polish=True)
    assert np.allclose(predict(FAMILIES[2], p, x), sig(x), atol=1e-3)
