"""Result documents from two processes compared as the code guarantees them."""

import math


def assert_same(a, b, path="doc"):
    """Equal, except that floats need only agree to 1e-5. Torch's CPU kernels are not bitwise
    reproducible from one process to another (the vector path can depend on where a buffer lands):
    a training loss measured in a Ray worker and in the test's process agreed to 2e-8, not to the
    last bit, on CI's machine. Counts, run ids and the scores built from them must be identical."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9), f"{path}: {a} != {b}"
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
