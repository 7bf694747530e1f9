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
    # about half the draws follow a power law with an asymptote (its backtest is as good as the line's within the
    # 1% noise), and an asymptote read into that noise bends them a little: within 8%, the line alone within 5%
    assert lo <= loss(1600 * 16) <= hi and abs(med / loss(1600 * 16) - 1) < 0.08
    assert (f.gain_next_doubling(1600) > 0).mean() > 0.9  # a falling loss improves


def test_a_curve_that_levels_off_below_the_bound_is_forecast_nearer_with_the_power_law(monkeypatch):
    """Accuracy 0.75 − 0.6·n^−0.4 (a ceiling at 0.75, not 1): the line in logit runs on toward 1; the power law with
    an asymptote, which backtests better on the rungs, takes most draws and stays near the ceiling."""
    from dataladder.forecast import model

    acc = lambda n: 0.75 - 0.6 * n ** -0.4  # noqa: E731
    rng = np.random.default_rng(0)
    n = np.repeat([16, 32, 64, 128, 256, 512, 1024], 2).astype(float)
    y = np.clip(acc(n) + rng.normal(0, 0.003, len(n)), 0, 1)
    both = forecast(n, y)
    monkeypatch.setattr(model, "POWER", False)
    line = forecast(n, y)
    truth = acc(1024 * 16)
    assert both.pw_mask.mean() > 0.4 and line.pw_mask is None
    assert abs(both.band(1024 * 16)[1] - truth) < 0.5 * abs(line.band(1024 * 16)[1] - truth)
    lo, _, hi = both.band(1024 * 16)
    assert lo <= truth <= hi


def test_same_points_same_forecast_and_summary_is_json_ready():
    a = fit_curve(points(logistic, 1000), target=0.8, seed=4)
    b = fit_curve(points(logistic, 1000), target=0.8, seed=4)
    assert a.n_target_interval() == b.n_target_interval()
    s = summarize_fit(a, 1280, 100_000)
    assert s["n_target"]["median"] and 0 <= s["p_reach_within_budget"] <= s["p_reachable"] <= 1
    assert len(s["curve"]["n"]) == len(s["curve"]["median"])


FALLING = [(10, 16), (20, 15), (40, 15), (80, 13)]  # per seed of 30 items: 0.533, 0.500, 0.500, 0.433


def test_a_falling_tail_is_followed_and_the_band_passes_through_its_rungs():
    fit = fit_curve([(n, k, 30) for n, k in FALLING for _ in range(2)], target=0.9, seed=4)
    assert fit.trend.slope < 0 and fit.trend.share == 1 and any("follow that trend" in x for x in fit.notes)
    s = summarize_fit(fit, 80, 5120)
    assert s["n_target"]["median"] is None and s["p_reachable"] < 0.2
    cv = s["curve"]
    lx = np.log(cv["n"])
    for n, k in FALLING[1:]:  # the rungs the trend was measured on
        lo, hi = (np.interp(math.log(n), lx, cv[q]) for q in ("lo80", "hi80"))
        assert lo <= k / 30 <= hi, n
    assert cv["median"][-1] < 0.433  # the band goes where the rungs go: down, not up to the target


def test_following_the_trend_is_continuous_in_the_data():
    from dataladder.forecast.trend import Trend

    assert [Trend(s, 0.04, (20, 40, 80), 0.5).share for s in (-0.1, 0.0, 0.02, 0.04, 0.2)] == [1, 1, 0.5, 0, 0]
    # one more item right on the last rung (of 60) moves P(reachable) a little, through slope 0 and past it
    head = [(n, k, 30) for n, k in FALLING[:3] for _ in range(2)]
    fits = [fit_curve(head + [(80, 13 + d // 2, 30), (80, 13 + d - d // 2, 30)], 0.9, seed=4) for d in range(8)]
    p = [f.p_reachable() for f in fits]
    assert fits[0].trend.slope < 0 < fits[-1].trend.slope and p == sorted(p)
    assert all(b - a < 0.15 for a, b in zip(p, p[1:])), p


def test_a_clearly_rising_curve_is_forecast_as_before():
    pts = points(logistic, 2000)
    fit = fit_curve(pts, target=0.9)
    raw = forecast([p[0] for p in pts], [p[1] / p[2] for p in pts], [p[2] for p in pts], target=0.9, draws=1000)
    assert fit.trend.share == 0 and fit.n_target_interval() == raw.n_target_interval()


def test_the_plot_band_starts_where_the_slope_was_fitted():
    from dataladder.core.plot import pyplot
    from dataladder.ladder.plot import draw_ladder

    fit = fit_curve([(n, k, 30) for n, k in FALLING for _ in range(2)], target=0.9, seed=4)
    rungs = [{"n": n, "accuracy": k / 30, "ci_low": k / 30 - 0.1, "ci_high": k / 30 + 0.1} for n, k in FALLING]
    fig, ax = pyplot().subplots()
    draw_ladder(ax, {"rungs": rungs, "fit": summarize_fit(fit, 80, 5120)}, "C0", "falling")
    band = ax.lines[-1].get_xdata()
    assert 20 / 1.3 <= min(band) < 40 and max(band) >= 8 * 80 / 1.3  # from the window's first rung on
    pyplot().close(fig)
