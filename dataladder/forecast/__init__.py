"""Learning-curve forecasts: the forecaster (`model`), POINTS files (`points`), the fit.json summary (`summary`).

    from dataladder.forecast import forecast, read_points, summarize

Names are imported on first use, so `import dataladder.forecast` stays light.
"""

from __future__ import annotations

_EXPORTS = {"forecast": "model", "Forecast": "model", "read_points": "points", "Points": "points",
            "Curve": "points", "summarize": "summary", "summarize_curve": "summary"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"dataladder.forecast.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'dataladder.forecast' has no attribute {name!r}")
