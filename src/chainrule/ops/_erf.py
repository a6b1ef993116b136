"""A vectorised error function for GELU (NumPy has none; math.erf per element is slow).

``erf(x) = x P(x^2)`` for ``|x| < 2`` and ``1 - exp(-x^2) Q(|x|)`` for ``2 <= |x| < 6``
(1 beyond, where erf rounds to 1), odd in x. P and Q interpolate ``math.erf`` at Chebyshev
points, built at import: float64 to about 2e-15, float32 (lower degrees, float32
arithmetic) to about 2e-7.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["erf"]


def _fit(f: Any, lo: float, hi: float, degree: int) -> np.ndarray:
    """Power-series coefficients (lowest first) in ``s`` in [-1, 1] of the polynomial that
    interpolates ``f`` on [lo, hi] at Chebyshev points (well conditioned here: the
    coefficients stay below 1)."""
    nodes = np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))
    values = [f(lo + (s + 1) * (hi - lo) / 2) for s in nodes]
    cheb = np.polynomial.chebyshev.chebfit(nodes, values, degree)
    return np.polynomial.chebyshev.cheb2poly(cheb)


def _erf_over_x(u: float) -> float:  # erf(x)/x as a function of u = x^2
    x = math.sqrt(u)
    return math.erf(x) / x if x > 0 else 2 / math.sqrt(math.pi)


def _erfcx(a: float) -> float:  # erfc(a) exp(a^2): smooth, about 1/(a sqrt(pi))
    return math.erfc(a) * math.exp(a * a)


# erf on |x| < 2 as x P(x^2), on 2 <= |x| < 6 as 1 - exp(-x^2) Q(|x|), and 1 beyond:
# interpolants of math.erf built at import; float64 to about 2e-15, float32 to 2e-7
_ERF_FITS = {
    np.dtype(np.float64): (_fit(_erf_over_x, 0, 4, 18), _fit(_erfcx, 2, 6, 20)),
    np.dtype(np.float32): tuple(c.astype(np.float32) for c in (
        _fit(_erf_over_x, 0, 4, 9), _fit(_erfcx, 2, 6, 11))),
}


def _horner(coefs: np.ndarray, s: np.ndarray) -> np.ndarray:
    acc = np.full_like(s, coefs[-1])
    for c in coefs[-2::-1]:
        acc *= s
        acc += c
    return acc


def erf(x: np.ndarray) -> np.ndarray:
    """The error function elementwise (vectorised; math.erf per element for other dtypes)."""
    fits = _ERF_FITS.get(np.result_type(x))
    if fits is None or np.ndim(x) == 0:
        return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=np.result_type(x))
    inner, outer = fits
    a = np.abs(x)
    out = np.empty_like(a)
    near = a < 2
    if near.all():
        out = a * _horner(inner, a * a * 0.5 - 1)
    else:
        an = a[near]
        out[near] = an * _horner(inner, an * an * 0.5 - 1)
        af = np.minimum(a[~near], 6.0)
        out[~near] = 1 - np.exp(-af * af) * _horner(outer, (af - 4) * 0.5)
    return np.copysign(out, x, out=out)
