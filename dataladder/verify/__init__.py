"""Verifiers: plain functions `(completion, answer, **item) -> Verdict`.

One registry serves evals (the probe's scorer), data curation (the filter) and RL (the reward).
Look one up by spec with `get_verifier("numeric")`, `get_verifier("regex:^\\d+$")` or
`get_verifier("my_pkg.checks:is_valid")`.
"""

from dataladder.verify.core import Verdict, Verifier, get_verifier, verifier_names

__all__ = ["Verdict", "Verifier", "get_verifier", "verifier_names"]
