import math

import pytest
from scipy.stats import binomtest

from dataladder.core.stats import wilson


@pytest.mark.parametrize("k,n", [(0, 10), (5, 10), (10, 10), (87, 300), (299, 300), (1, 1)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson(k, n)
    assert math.isclose(lo, ci.low, abs_tol=1e-9) and math.isclose(hi, ci.high, abs_tol=1e-9)


def test_wilson_shrinks_with_n_and_handles_zero():
    assert wilson(0, 0) == (0.0, 1.0)
    w10 = wilson(5, 10)
    w1000 = wilson(500, 1000)
    assert (w10[1] - w10[0]) > (w1000[1] - w1000[0])
