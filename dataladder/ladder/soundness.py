"""Is a finished run a sound measurement of its data, or did its training break? Pure functions, for any kind.

A run is **unstable** when its training loss (one value per optimizer step, `train/progress.py` `loss_curve`)

- goes NaN or inf: "loss NaN at step 7";
- jumps: a step's loss above `JUMP`× the running median of the steps before it (from step `WARMUP` + 1),
  "loss jumped 0.41 → 3.2 at step 12"; or rises over the run: the last logged loss above `RISE`× the first
  (the means of the first and last tenth of the steps, as `first_loss`/`last_loss`), "loss rose 0.4 → 0.9";
  both only by more than `MIN_GAP` nats, so a loss wobbling near zero (a skill the model already has) is not
  called a divergence;

or it **collapsed**: its target-format accuracy fell below the base model's by more than max(`DROP`, 3 binomial
standard errors of the difference) and to under half of it, while its loss fell (the loss says it learned,
the eval says it broke): "collapsed: target accuracy 0.73 → 0.00 while the loss fell 1.63 → 0.22".

A kind that checks its runs records `"soundness": {"sound", "reason", "retried"}` in the result (`retried`:
an unsound run is trained once more at `RETRY_LR`× the learning rate, same seed, so the run stays a pure
function of its config: `retry_once`). The engine leaves unsound runs out of the fit and the stop rule
(`unsound_reason`); a result stored before the check has no `soundness` and counts as sound.

A run also keeps a few of its eval samples (`keep_samples`, `write_samples`): what a reader looks at when a
rung is said to be unsound.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import Callable

WARMUP = 3  # steps before the jump rule applies (the running median needs a few)
JUMP = 3.0  # a step's loss above this × the running median of the steps before it
RISE = 1.5  # the last logged loss above this × the first
MIN_GAP = 0.25  # nats: a jump or rise must also exceed this much
DROP = 0.15  # collapse: the target accuracy fell by more than max(this, 3 SE) ...
RETRY_LR = 0.25  # an unsound run is retried once at this × its learning rate
SAMPLES_PER_FORMAT = 5
SAMPLES_FILE = "samples.jsonl"


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _bad(x) -> str:
    return "inf" if isinstance(x, (int, float)) and math.isinf(x) else "NaN"


def _ends(curve: list[float]) -> tuple[float | None, float | None]:
    k = max(1, len(curve) // 10)
    return (sum(curve[:k]) / k, sum(curve[-k:]) / k) if curve else (None, None)


def loss_instability(curve: list[float] | None, first: float | None = None, last: float | None = None) -> str | None:
    """Why a per-step loss `curve` says training diverged (None: it did not). `first`/`last`: the run's logged
    first and last loss (default: the means of the curve's first and last tenth); without a curve (a result
    from before curves were kept) only they are judged."""
    curve = list(curve or [])
    for i, x in enumerate(curve):
        if not _finite(x):
            return f"loss {_bad(x)} at step {i + 1}"
    seen: list[float] = []
    for i, x in enumerate(curve):
        if i >= WARMUP:
            k = len(seen)
            med = seen[k // 2] if k % 2 else (seen[k // 2 - 1] + seen[k // 2]) / 2
            if x > JUMP * med and x - med > MIN_GAP:
                return f"loss jumped {med:.3g} → {x:.3g} at step {i + 1}"
        bisect.insort(seen, x)
    if first is None or last is None:
        first, last = _ends(curve) if curve else (first, last)
    if first is None or last is None:
        return None
    for name, x in (("first", first), ("last", last)):
        if not _finite(x):
            return f"loss {_bad(x)} ({name} logged loss)"
    if last > RISE * first and last - first > MIN_GAP:
        return f"loss rose {first:.3g} → {last:.3g} over the run"
    return None


def train_instability(stats: dict) -> str | None:
    """`loss_instability` of a recipe's train stats (`loss_curve`, `first_loss`, `last_loss`)."""
    return loss_instability(stats.get("loss_curve"), stats.get("first_loss"), stats.get("last_loss"))


def could_collapse(correct: int, n: int, first_loss: float | None, last_loss: float | None) -> bool:
    """Whether `collapse` could say so whatever the base model scored (so the base is looked up only then):
    the loss fell and the run scored under 0.5 (half of at most 1)."""
    return bool(n) and _finite(first_loss) and _finite(last_loss) and last_loss < first_loss and correct / n < 0.5


def collapse(base_correct: int, base_n: int, correct: int, n: int, first_loss: float | None,
             last_loss: float | None) -> str | None:
    """Why a run collapsed (None: it did not): its target accuracy fell below the base model's by more than
    max(DROP, 3 SE of the difference) and to under half of it, while its loss fell."""
    if not (base_n and n and could_collapse(correct, n, first_loss, last_loss)):
        return None
    pb, p = base_correct / base_n, correct / n
    se = math.sqrt(max(pb * (1 - pb), 1e-4) / base_n + max(p * (1 - p), 1e-4) / n)
    if pb - p > max(DROP, 3 * se) and p < pb / 2:
        return f"collapsed: target accuracy {pb:.2f} → {p:.2f} while the loss fell {first_loss:.3g} → {last_loss:.3g}"
    return None


def run_instability(stats: dict, cell: dict | None, base: Callable[[], tuple[int, int]]) -> str | None:
    """Why a trained run is unsound (None: it is sound): its loss diverged (`train_instability` of its train
    `stats`), or it collapsed in the target format (`cell`: its {correct, n}) against the base model's
    (correct, n) from `base()`, which is called only when it could matter (`could_collapse`)."""
    if why := train_instability(stats):
        return why
    first, last = stats.get("first_loss"), stats.get("last_loss")
    if cell is None or not could_collapse(cell["correct"], cell["n"], first, last):
        return None
    return collapse(*base(), cell["correct"], cell["n"], first, last)


def unsound_reason(result: dict) -> str | None:
    """Why a stored run is not a sound measurement, from its `soundness` block; None when sound (a result
    without the block, stored before runs were checked, is sound)."""
    s = result.get("soundness") if isinstance(result, dict) else None
    if not isinstance(s, dict) or s.get("sound", True):
        return None
    return s.get("reason") or "unsound run"


def _seconds(result: dict) -> float:
    if "seconds" in result:
        return float(result["seconds"])
    return float(result.get("train", {}).get("seconds", 0.0)) + float(result.get("eval_seconds", 0.0))


def retry_once(attempt: Callable[[float], dict], check: Callable[[dict], str | None], learning_rate: float,
               factor: float = RETRY_LR) -> dict:
    """`attempt(learning_rate)` with its `soundness`; when `check` says why it is unsound, the run is the retry
    `attempt(learning_rate × factor)` (same seed: deterministic), sound or not, recording the first reason.
    A retried result's `seconds` counts both attempts (the time budget)."""
    result = attempt(learning_rate)
    why = check(result)
    if why is None:
        return {**result, "soundness": {"sound": True, "reason": None, "retried": None}}
    first_seconds = _seconds(result)
    lr = learning_rate * factor
    retry = attempt(lr)
    again = check(retry)
    return {**retry, "seconds": first_seconds + _seconds(retry),
            "soundness": {"sound": again is None, "reason": again,
                          "retried": {"learning_rate": lr, "first_reason": why, "first_seconds": first_seconds}}}


def keep_samples(samples: list[dict], per: int = SAMPLES_PER_FORMAT) -> list[dict]:
    """The first `per` samples of each (skill, format), with the fields a reader needs."""
    out, count = [], {}
    for s in samples:
        key = (s["skill"], s["format"])
        if count.get(key, 0) < per:
            count[key] = count.get(key, 0) + 1
            out.append({k: s.get(k) for k in ("skill", "format", "key", "prompt", "completion", "answer", "ok")})
    return out


def write_samples(run_dir: Path | str | None, samples: list[dict]) -> dict:
    """Write `samples` to `run_dir/samples.jsonl` (none without a run dir); returns the result's key for it."""
    if run_dir is None:
        return {}
    p = Path(run_dir)
    p.mkdir(parents=True, exist_ok=True)
    tmp = p / (SAMPLES_FILE + ".tmp")
    tmp.write_text("".join(json.dumps(s, default=str) + "\n" for s in samples))
    tmp.replace(p / SAMPLES_FILE)
    return {"samples_file": SAMPLES_FILE}
