"""Fit the forecast's learned prior (`dataladder/forecast/stack.py`) on the calibration curves only.

    .venv/bin/pip install -e '.[bench]'                 # lcdb: the Learning Curve Database
    .venv/bin/python bench/fit_forecast_prior.py [--write]   # ≈ 10 s; --write puts COEF into stack.py

The curves are `bench/bench_forecast.py`'s fixed-rung cases with bounded scores (LCDB and Llama-2 fine-tuning;
RoBERTa's have three rungs) of its calibration split (LCDB ids ≡ 0 mod 4, every other fine-tuning task); the check split is
never read here. Per horizon h (4×, 16×, 32× past the last rung), a Huber regression (iteratively reweighted,
δ = 1.345 × the residuals' robust scale) of the truth's rise on the logit scale from the last rung's mean (of
the seeds a forecaster sees) on `Learned.features`, every case weighted alike, over the cases with at least
`stack.MIN_RUNGS` rungs (the prior applies to no other).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_forecast as bf  # noqa: E402

from dataladder.forecast import stack  # noqa: E402
from dataladder.forecast.model import Link  # noqa: E402


HORIZONS = tuple(int(round(h)) for h in np.exp(stack.AT))  # 4×, 16×, 32×: the rows of COEF


def rows(cases) -> dict:
    """Per horizon: features (cases × 6), the truth's rise, the case's family."""
    link = Link("logit", "higher")
    out = {h: ([], [], []) for h in HORIZONS}
    for c in cases:
        if not c["bounded"] or len(c["rungs"]) < stack.MIN_RUNGS:
            continue
        rungs = np.array([n for n, _, _ in c["rungs"]], float)
        means = np.array([np.mean(vs) for _, vs, _ in c["rungs"]])
        counts = np.array([len(vs) for _, vs, _ in c["rungs"]], float)
        lp = stack.learned(link, rungs, means, counts, 1.0)
        for h, (n, truth) in c["at"].items():
            if h not in out:  # the bench reads 64× too; the prior's rows are stack.AT's horizons
                continue
            X, y, fam = out[h]
            X.append(lp.features(link, np.array([np.log(n / c["last"])]))[0])
            y.append(float(link.z(truth)) - lp.z_last)
            fam.append(bf.family(c))
    return out


def huber(X: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 50) -> np.ndarray:
    """Weighted Huber regression by iteratively reweighted least squares."""
    beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    for _ in range(iters):
        r = y - X @ beta
        scale = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-6)
        delta = 1.345 * scale
        ww = w * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-12))
        new = np.linalg.lstsq(X * np.sqrt(ww)[:, None], y * np.sqrt(ww), rcond=None)[0]
        if np.allclose(new, beta, atol=1e-7):
            break
        beta = new
    return beta


def fit(cases) -> np.ndarray:
    coef = []
    for h, (X, y, fam) in rows(cases).items():
        X, y, fam = np.array(X), np.array(y), np.array(fam)
        beta = huber(X, y, np.ones(len(y)))
        coef.append(beta)
        print(f"{h:>3}×: {len(y)} cases ({', '.join(f'{f} {np.sum(fam == f)}' for f in sorted(set(fam)))}); "
              f"coefficients {np.round(beta, 4).tolist()}")
    return np.array(coef)


def write(coef: np.ndarray) -> None:
    path = Path(stack.__file__)
    body = "".join(f"    [{', '.join(f'{v:.4f}' for v in row)}],\n" for row in coef)
    text = re.sub(r"COEF = np\.array\(\[\n.*?\]\)", f"COEF = np.array([\n{body}])", path.read_text(), flags=re.S)
    path.write_text(text)
    print(f"wrote COEF into {path}")


def calibration_cases() -> list[dict]:
    """The bench's bounded cases of the calibration split: the only curves this fit reads."""
    return [c for c in bf.lcdb_fixed_cases() + bf.finetune_fixed_cases() if c["split"] == "cal"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="put the coefficients into dataladder/forecast/stack.py")
    args = ap.parse_args()
    coef = fit(calibration_cases())
    if args.write:
        write(coef)


if __name__ == "__main__":
    main()
