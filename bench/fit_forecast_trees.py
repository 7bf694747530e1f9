"""Fit the forecast's candidate trees (`dataladder/forecast/trees.py`) on the calibration curves only.

    .venv/bin/pip install -e '.[bench]'                  # lcdb and scikit-learn
    .venv/bin/python bench/fit_forecast_trees.py [--write]   # ≈ 1 min; --write puts the trees into trees.npz

The curves are `fit_forecast_prior.calibration_cases()` (the bench's bounded cases of its calibration split; the
check split is never read here), with three rungs or more. One row per case and horizon (4×, 16×, 32×, 64× past
the last rung): `trees.features` of the rungs as the forecaster computes them (`stack.learned`), and the truth's
rise on the logit scale from the last rung's mean. scikit-learn's HistGradientBoostingRegressor (absolute error,
depth 3, 200 rounds of 0.05, seed 0) fits them; its trees are exported node by node (a feature, a threshold,
`x <= threshold` to the left), and the export is checked against scikit-learn's own prediction on every row.
The gate's mean, inverse covariance and d90 come from the same rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fit_forecast_prior as fp  # noqa: E402

from dataladder.forecast import stack, trees  # noqa: E402
from dataladder.forecast.model import Link  # noqa: E402


def rows(cases) -> tuple[np.ndarray, np.ndarray]:
    link = Link("logit", "higher")
    X, y = [], []
    for c in cases:
        if not c["bounded"] or len(c["rungs"]) < 3:
            continue
        rungs = np.array([n for n, _, _ in c["rungs"]], float)
        vals = [np.array(vs, float) for _, vs, _ in c["rungs"]]
        means = np.array([v.mean() for v in vals])
        spread = float(np.mean([v.std() if len(v) > 1 else np.nan for v in vals[-2:]]))
        lp = stack.learned(link, rungs, means, np.array([len(v) for v in vals], float), 1.0, "trees", spread,
                           float(c["rungs"][-1][2] or 1))
        for n, truth in c["at"].values():
            X.append(trees.features(lp, link, np.array([np.log(n / c["last"])]))[0])
            y.append(float(link.z(truth)) - lp.z_last)
    return np.array(X), np.array(y)


def export(m, X: np.ndarray) -> dict:
    preds = [p[0] for p in m._predictors]
    width = max(len(p.nodes) for p in preds)
    out = {k: np.zeros((len(preds), width), dt) for k, dt in
           (("feature", np.int16), ("threshold", float), ("left", np.int16), ("right", np.int16), ("leaf", bool),
            ("value", float))}
    out["leaf"][:] = True
    for t, p in enumerate(preds):
        nd = p.nodes
        k = len(nd)
        out["feature"][t, :k], out["threshold"][t, :k] = nd["feature_idx"], nd["num_threshold"]
        out["left"][t, :k], out["right"][t, :k] = nd["left"], nd["right"]
        out["leaf"][t, :k], out["value"][t, :k] = nd["is_leaf"].astype(bool), nd["value"]
    out["base"] = np.array(float(np.ravel(m._baseline_prediction)[0]))
    out["depth"] = np.array(int(m.max_depth) + 1)
    mu = X.mean(0)
    icov = np.linalg.pinv(np.cov(X, rowvar=False))
    out["mu"], out["icov"] = mu, icov
    dist = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X - mu, icov, X - mu), 0.0))
    out["d90"] = np.array(float(np.quantile(dist, 0.9)))
    return out


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write dataladder/forecast/trees.npz")
    args = ap.parse_args()
    X, y = rows(fp.calibration_cases())
    m = HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, learning_rate=0.05, max_depth=3,
                                      random_state=0).fit(X, y)
    arrays = export(m, X)
    print(f"{len(y)} rows × {X.shape[1]} features; {len(m._predictors)} trees; d90 {float(arrays['d90']):.2f}")
    if args.write:
        np.savez_compressed(trees.PATH, **arrays)
        trees._model.cache_clear()
        gap = float(np.max(np.abs(trees.predict(X) - m.predict(X))))
        print(f"wrote {trees.PATH} ({trees.PATH.stat().st_size} bytes); |numpy − scikit-learn| ≤ {gap:.2e}")
        if gap > 1e-9:
            raise SystemExit("the exported trees disagree with scikit-learn's")


if __name__ == "__main__":
    main()
