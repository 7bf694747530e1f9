"""The candidate trees past the last rung (`dataladder/forecast/trees.py`, `model.CENTRE = "trees"`).

The export reads as scikit-learn's own trees do (fitted here on random rows), the gate trusts the trees on their
training curves' mean and not far from it, and the candidate moves the shipped band, spread kept, by exactly its
gate's share of the way to the trees' centre, nothing inside the rungs; the centre never falls with n, and the size
for a target moves with the band. No lcdb, no torch."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from dataladder.forecast import model, trees
from dataladder.forecast.model import forecast

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

LEVELLING = np.repeat([16, 32, 64, 128, 256], 2).astype(float)


def test_the_exported_trees_predict_what_scikit_learn_predicts():
    ensemble = pytest.importorskip("sklearn.ensemble")
    import fit_forecast_trees as ft

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, len(trees.FEATURES)))
    y = np.sin(X[:, 0]) + X[:, 3] * (X[:, 5] > 0) + rng.normal(0, 0.1, 400)
    m = ensemble.HistGradientBoostingRegressor(loss="absolute_error", max_iter=30, max_depth=3, random_state=0).fit(X, y)
    arrays = ft.export(m, X)
    new = rng.normal(size=(200, len(trees.FEATURES)))
    assert np.allclose(trees.predict(new, arrays), m.predict(new), atol=1e-12)
    assert np.ptp(m.predict(new)) > 0.5  # the comparison is not between constants


def test_the_gate_trusts_the_training_curves_mean_and_not_a_curve_far_from_it():
    m = trees._model()
    assert trees.weight(m["mu"][None, :])[0] == 1.0
    far = m["mu"] + 50 * np.sqrt(np.diag(np.linalg.pinv(m["icov"])))
    assert trees.weight(far[None, :])[0] == 0.0


def test_the_candidate_moves_the_shipped_band_by_its_gate_toward_the_trees(monkeypatch):
    y = np.clip(0.75 - 0.6 * LEVELLING ** -0.4 + np.random.default_rng(0).normal(0, 0.003, len(LEVELLING)), 0, 1)
    ev = np.full(len(y), 1000.0)
    off = forecast(LEVELLING, y, ev, target=0.7)
    monkeypatch.setattr(model, "CENTRE", "trees")
    on = forecast(LEVELLING, y, ev, target=0.7)
    lp, link = on.learned, on.link
    assert lp.centre == "trees" and lp.shape[8] == 5  # five rungs
    moved = 0
    for h in (2, 4, 16, 64, 200):
        d = np.array([math.log(h)])
        c, g = trees.centre(lp, link, d)
        z_on, z_off = link.z(on.at(256 * h)), link.z(off.at(256 * h))
        assert np.median(z_on) - np.median(z_off) == pytest.approx(g[0] * (c[0] - np.median(z_off)), abs=1e-6)
        assert np.quantile(z_on, 0.9) - np.quantile(z_on, 0.1) == pytest.approx(
            np.quantile(z_off, 0.9) - np.quantile(z_off, 0.1), abs=1e-6)
        assert 0 <= g[0] <= min(math.log(h) / trees.H_MIN, 1.0)
        moved += g[0] > 0
    assert moved  # the check is not vacuous: this curve is like the trees' training curves
    grid = np.log(np.geomspace(1.01, 64, 40))
    c, _ = trees.centre(lp, link, grid)
    assert np.all(np.diff(c) >= 0)  # the trees' steps are no forecast of a dip
    assert trees.centre(lp, link, np.array([1e-9]))[0][0] == pytest.approx(lp.z_last)  # from the last rung's level
    # the size for a target is read from the moved draws, not from the unmoved line
    assert on.n_target_interval()[1] != off.n_target_interval()[1]
    assert np.array_equal(on.at(100), off.at(100))  # inside the rungs nothing moves
