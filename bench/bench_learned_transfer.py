"""Does a median learned from real curves carry over to a source it never saw? (issue 25)

    .venv/bin/pip install -e '.[bench]'          # lcdb; scikit-learn comes with it
    .venv/bin/python bench/bench_learned_transfer.py   # ≈ 2 min on 2 cores

The issue judges the forecaster on held-out sources (other LLM fine-tuning curves, LCDB's odd ids). This bench
asks how a learned point forecast 4–64× past the last rung does on a source it was not fitted on. On
`bench_forecast.py`'s fixed cases with bounded scores, each calibration curve is forecast by a model fitted on
the calibration curves of the *other* sources only (LCDB's datasets split into five groups by a stable hash;
the Llama-2 and RoBERTa fine-tuning curves one source each), and each check curve by the model fitted on every
calibration curve. Two learned models, both of the truth's rise on the logit scale from the last rung's mean:

- `huber6`: the shipped prior's regression (`stack.Learned.features`, `fit_forecast_prior.huber`), one per horizon;
- `gbm`: gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor, absolute error, depth 3, 200
  rounds of 0.05) on the rungs' shape: the last four logits and step slopes, the rung count, log h, the last mean,
  the two fitted baselines' rises, the seeds' spread, the evaluation size and log of the last rung.

- `gated`: the trees trusted only on curves like their training curves: w = clip(1 − (d/d90 − 1)/0.5, 0, 1), d a
  curve's mean distance to its 10 nearest training curves (standardized tree features, a missing one as −9) and
  d90 the 90th percentile of the training curves' own; the rest of the way (1 − w) goes to `mix`;
- `gated-m`: the same with the runtime's gate (`dataladder.forecast.trees`): d a curve's Mahalanobis distance from
  the training curves' mean (their inverse covariance), d90 the 90th percentile of their own;

beside `mix`, the mean of the power law and the logit line fitted to every rung (no learning). Each figure is the mean
absolute error over the best simple baseline's (`bench_forecast.baseline_points`) for that family, split and h.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_forecast as bf  # noqa: E402
import fit_forecast_prior as fp  # noqa: E402

from dataladder.forecast import stack  # noqa: E402
from dataladder.forecast.model import Link  # noqa: E402


def logit(p):
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def rows() -> list[dict]:
    link = Link("logit", "higher")
    out = []
    for c in bf.lcdb_fixed_cases() + bf.finetune_fixed_cases():
        if not c["bounded"] or len(c["rungs"]) < 3:
            continue
        base = bf.baseline_points(c)
        rungs = np.array([n for n, _, _ in c["rungs"]], float)
        vals = [np.array(vs, float) for _, vs, _ in c["rungs"]]
        means = np.array([v.mean() for v in vals])
        lp = stack.learned(link, rungs, means, np.array([len(v) for v in vals], float), 1.0)
        z, lx = logit(means), np.log(rungs)
        slopes = np.diff(z) / np.diff(lx)
        pad = lambda a: np.concatenate([np.full(max(0, 4 - len(a)), np.nan), a[-4:]])  # noqa: E731
        spread = np.mean([v.std() if len(v) > 1 else np.nan for v in vals[-2:]])
        ev = c["rungs"][-1][2] or 1
        src = c["name"].split("/")[0]
        src = f"lcdb{zlib.crc32(src.encode()) % 5}" if bf.family(c) == "LCDB accuracies" else src
        for h, (n, truth) in c["at"].items():
            b = base[h]
            last, pw, ln = b["last value"], b["power law"], b["logit line"]
            tree = np.concatenate([pad(z[:-1] - z[-1]), pad(slopes), [len(z), np.log(h), means[-1], z[-1],
                                   logit(pw) - logit(last), logit(ln) - logit(last), pw - last, ln - last,
                                   spread, np.log(ev), lx[-1]]])
            out.append({"fam": bf.family(c), "split": c["split"], "src": src, "h": h, "truth": truth, "base": b,
                        "zlast": logit(last), "tree": tree,
                        "six": lp.features(link, np.array([np.log(n / c["last"])]))[0] if
                        lp is not None and len(rungs) >= stack.MIN_RUNGS else None})
    return out


def huber6(train, test):
    pred = np.full(len(test), np.nan)
    for h in {r["h"] for r in test}:
        tr = [r for r in train if r["h"] == h and r["six"] is not None]
        if len(tr) < 10:
            continue
        beta = fp.huber(np.array([r["six"] for r in tr]), np.array([logit(r["truth"]) - r["zlast"] for r in tr]),
                        np.ones(len(tr)))
        for i, r in enumerate(test):
            if r["h"] == h and r["six"] is not None:
                pred[i] = 1 / (1 + np.exp(-(r["zlast"] + max(float(r["six"] @ beta), 0.0))))
    return pred


def gbm(train, test):
    from sklearn.ensemble import HistGradientBoostingRegressor

    m = HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, learning_rate=0.05, max_depth=3,
                                      random_state=0)
    m.fit(np.array([r["tree"] for r in train]), np.array([logit(r["truth"]) - r["zlast"] for r in train]))
    return 1 / (1 + np.exp(-(np.array([r["zlast"] for r in test]) + m.predict(np.array([r["tree"] for r in test])))))


def gated(train, test, k: int = 10, scale: float = 0.5):
    from sklearn.neighbors import NearestNeighbors

    a = np.nan_to_num(np.array([r["tree"] for r in train]), nan=-9.0)
    b = np.nan_to_num(np.array([r["tree"] for r in test]), nan=-9.0)
    mu, sd = a.mean(0), a.std(0) + 1e-9
    nn = NearestNeighbors(n_neighbors=k).fit((a - mu) / sd)
    own = nn.kneighbors((a - mu) / sd, k + 1)[0][:, 1:].mean(1)  # each training curve's, itself left out
    w = np.clip(1 - (nn.kneighbors((b - mu) / sd)[0].mean(1) / np.quantile(own, 0.9) - 1) / scale, 0.0, 1.0)
    mix = np.array([(r["base"]["power law"] + r["base"]["logit line"]) / 2 for r in test])
    return w * gbm(train, test) + (1 - w) * mix


def gated_m(train, test, scale: float = 0.5):
    """`gated` with the runtime's gate (`dataladder.forecast.trees.weight`): the Mahalanobis distance from the training
    curves' mean, over the 90th percentile of their own."""
    a = np.nan_to_num(np.array([r["tree"] for r in train]), nan=-9.0)
    b = np.nan_to_num(np.array([r["tree"] for r in test]), nan=-9.0)
    mu, icov = a.mean(0), np.linalg.pinv(np.cov(a, rowvar=False))
    dist = lambda x: np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", x - mu, icov, x - mu), 0.0))  # noqa: E731
    w = np.clip(1 - (dist(b) / np.quantile(dist(a), 0.9) - 1) / scale, 0.0, 1.0)
    mix = np.array([(r["base"]["power law"] + r["base"]["logit line"]) / 2 for r in test])
    return w * gbm(train, test) + (1 - w) * mix


def predictions(rs, model) -> np.ndarray:
    """Calibration curves: fitted on the other sources' calibration curves; check curves: on all of them."""
    pred = np.full(len(rs), np.nan)
    cal = [r for r in rs if r["split"] == "cal"]
    for s in sorted({r["src"] for r in cal}):
        idx = [i for i, r in enumerate(rs) if r["split"] == "cal" and r["src"] == s]
        pred[idx] = model([r for r in cal if r["src"] != s], [rs[i] for i in idx])
    idx = [i for i, r in enumerate(rs) if r["split"] == "check"]
    pred[idx] = model(cal, [rs[i] for i in idx])
    return pred


def main() -> None:
    rs = rows()
    mix = np.array([(r["base"]["power law"] + r["base"]["logit line"]) / 2 for r in rs])
    preds = {"mix": mix, "huber6": predictions(rs, huber6), "gbm": predictions(rs, gbm),
             "gated": predictions(rs, gated), "gated-m": predictions(rs, gated_m)}
    print(f"{'family':22} {'split':5} {'h':>3} {'cases':>5} " + " ".join(f"{k:>7}" for k in preds)
          + "   (mean |error| / the best baseline's; calibration: the source left out of the fit)")
    for fam in sorted({r["fam"] for r in rs}):
        for split in ("cal", "check"):
            for h in bf.HORIZONS:
                idx = [i for i, r in enumerate(rs) if (r["fam"], r["split"], r["h"]) == (fam, split, h)]
                if len(idx) < 5:
                    continue
                t = np.array([rs[i]["truth"] for i in idx])
                best = min(np.mean(np.abs(np.array([rs[i]["base"][b] for i in idx]) - t)) for b in rs[idx[0]]["base"])
                cells = []
                for p in preds.values():
                    ok = [j for j, i in enumerate(idx) if np.isfinite(p[i])]
                    e = np.mean(np.abs(p[[idx[j] for j in ok]] - t[ok])) if len(ok) == len(idx) else np.nan
                    cells.append(f"{e / best:7.2f}")
                print(f"{fam:22} {split:5} {h:>3} {len(idx):>5} " + " ".join(cells))


if __name__ == "__main__":
    main()
