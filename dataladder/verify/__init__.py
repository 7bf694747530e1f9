"""Verifiers: plain functions `(completion, answer, **item) -> Verdict`.

One registry serves evals (the probe's scorer), data curation (the filter) and RL (the reward).
Look one up by spec with `get_verifier("numeric")`, `get_verifier("regex:^\\d+$")` or
`get_verifier("my_pkg.checks:is_valid")`; `lenient(spec)` is the same verifier read leniently about format
(`verify.core`). `json-schema` and `python-tests` (candidate programs run in the code sandbox, `verify.sandbox`)
live in `verify.code`; `verify_batch` runs many at once.
"""

from dataladder.verify.core import Verdict, Verifier, get_verifier, lenient, verifier_names
from dataladder.verify.code import verify_batch  # noqa: E402  (registers json-schema, python-tests)

__all__ = ["Verdict", "Verifier", "get_verifier", "lenient", "verifier_names", "verify_batch"]
