"""``MultivariateNormal(loc, covariance_matrix | precision_matrix | scale_tril)``.

Everything goes through the lower Cholesky factor ``L`` of the covariance
(``Sigma = L L^T``): ``log_prob`` solves ``L y = x - loc`` (a triangular solve) and
``log det Sigma = 2 sum(log diag L)``; ``rsample = loc + L eps``. Gradients reach
``loc`` and the matrix through the rules of ``cholesky`` and ``solve_triangular``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import _draw
from chainrule.distributions.utils import lazy_property
from chainrule.ops.linalg_decomp import cholesky, cholesky_inverse, solve_triangular
from chainrule.tensor import Tensor

__all__ = ["MultivariateNormal"]


def _diagonal(M: Tensor) -> Tensor:
    """The diagonals of a batch of matrices, differentiably: ``M[..., i, i]``."""
    n = M.shape[-1]
    i = np.arange(n)
    return M[..., i, i]


def _batch_mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """``|L^{-1} x|^2`` over the last dimension, batch dims broadcast."""
    batch = np.broadcast_shapes(tuple(L.shape[:-2]), tuple(x.shape[:-1]))
    n = x.shape[-1]
    Lb = L if tuple(L.shape[:-2]) == batch else L.broadcast_to(batch + (n, n))
    xb = x if tuple(x.shape[:-1]) == batch else x.broadcast_to(batch + (n,))
    y = solve_triangular(Lb, xb.unsqueeze(-1), upper=False)
    return (y ** 2).sum((-2, -1))


def _precision_to_scale_tril(P: Tensor) -> Tensor:
    """L with L L^T = P^{-1}: flip P, take its Cholesky factor, flip back and invert."""
    Lf = cholesky(P.flip(-2, -1))
    L_inv = Lf.flip(-2, -1).mT
    eye = Tensor._make(np.eye(P.shape[-1], dtype=P._data.dtype))
    return solve_triangular(L_inv, eye, upper=False)


class MultivariateNormal(Distribution):
    """The Gaussian with mean vector ``loc`` and a covariance given by exactly one of
    ``covariance_matrix``, ``precision_matrix`` (its inverse) or ``scale_tril`` (its
    lower Cholesky factor with a positive diagonal). Batch dims of ``loc`` and the matrix
    broadcast.
    """

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None,
                 precision_matrix: Tensor | None = None, scale_tril: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m is not None for m in (covariance_matrix, scale_tril, precision_matrix)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        for name, m in (("scale_tril", scale_tril), ("covariance_matrix", covariance_matrix),
                        ("precision_matrix", precision_matrix)):
            if m is None:
                continue
            if m.ndim < 2:
                what = "scale_tril matrix" if name == "scale_tril" else name
                raise ValueError(f"{what} must be at least two-dimensional, with optional "
                                 "leading batch dimensions")
            batch = np.broadcast_shapes(tuple(m.shape[:-2]), tuple(loc.shape[:-1]))
            setattr(self, name, m.expand(*batch, -1, -1))
            matrix = m
        self.loc = loc.expand(*batch, -1)
        super().__init__(batch, tuple(self.loc.shape[-1:]), validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(matrix)

    def expand(self, batch_shape: Any, _instance: Any = None) -> MultivariateNormal:
        new = type(self).__new__(type(self))
        shape = tuple(batch_shape)
        n = self._event_shape[0]
        new.loc = self.loc.expand(*shape, n)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(*shape, n, n))
        Distribution.__init__(new, shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _full(self, M: Tensor) -> Tensor:
        n = self._event_shape[0]
        return M.expand(*self._batch_shape, n, n)

    @lazy_property
    def scale_tril(self) -> Tensor:
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return self._full(L @ L.mT)

    @lazy_property
    def precision_matrix(self) -> Tensor:
        return self._full(cholesky_inverse(self._unbroadcasted_scale_tril))

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        v = (self._unbroadcasted_scale_tril ** 2).sum(-1)
        return v.expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        eps = _draw("normal", shape, self.loc._data.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return _diagonal(self._unbroadcasted_scale_tril).log().sum(-1)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)
        n = self._event_shape[0]
        return -0.5 * (n * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        H = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return H if len(self._batch_shape) == 0 else H.expand(*self._batch_shape)
