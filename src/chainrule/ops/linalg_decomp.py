"""Matrix decompositions with their rules: ``cholesky`` and ``solve_triangular`` (and
``cholesky_inverse`` composed from them), batched over leading dimensions, as
``torch.linalg``'s. MultivariateNormal is built on them.

Both backward rules are written with these same ops (a triangular solve's gradient is
another triangular solve), so gradients of gradients work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__: list[str] = []  # torch.linalg's names; the coordinator wires cr.linalg


def _mT(x: Any) -> Any:
    return _math.swapaxes(x, -1, -2)


def _triangle(n: int, upper: bool, unit: bool, dtype: Any) -> np.ndarray:
    """The 0/1 mask of the triangle a solve reads (its diagonal dropped if unit)."""
    ones = np.ones((n, n), dtype)
    mask = np.triu(ones, 1 if unit else 0) if upper else np.tril(ones, -1 if unit else 0)
    return mask


def _np_solve(A: np.ndarray, B: np.ndarray, upper: bool, unit: bool) -> np.ndarray:
    """A^{-1} B with A's other triangle ignored (batched, broadcast)."""
    n = A.shape[-1]
    T = A * _triangle(n, upper, False, A.dtype)
    if unit:
        T = T * (1 - np.eye(n, dtype=A.dtype)) + np.eye(n, dtype=A.dtype)
    batch = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    T = np.broadcast_to(T, batch + T.shape[-2:])
    B = np.broadcast_to(B, batch + B.shape[-2:])
    with np.errstate(all="ignore"):
        return np.linalg.solve(T, B)


class SolveTriangular(Op):
    """Y = A^{-1} B for a triangular A (lower, or upper with ``upper``): only that
    triangle of A is read, and with ``unitriangular`` its diagonal is taken as ones."""

    save_inputs = (0,)
    save_output = True
    shapes = {"A": "(*,n,n)", "B": "(*,n,k)", "Y": "(*,n,k)"}

    def forward(self, A: np.ndarray, B: np.ndarray, upper: bool = False,
                unitriangular: bool = False) -> np.ndarray:
        self.upper, self.unit = upper, unitriangular
        return _np_solve(A, B, upper, unitriangular)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dB = A^{-T} dY  (*,n,k) = (*,n,n)(*,n,k)
        dA = -tri(dB @ Y^T)  (*,n,n) = (*,n,k)(*,k,n)   (A's triangle only)"""
        A, Y = self.input(0), self.output()
        dB = _solve(_mT(A), dY, not self.upper, self.unit)
        dA = None
        if self.needs_input_grad[0]:
            n = self.input_shapes[0][-1]
            mask = _triangle(n, self.upper, self.unit, _math.data(dB).dtype)
            dA = unbroadcast(-_math.matmul(dB, _mT(Y)) * mask, tuple(self.input_shapes[0]))
        if self.needs_input_grad[1]:
            dB = unbroadcast(dB, tuple(self.input_shapes[1]))
        else:
            dB = None
        return dA, dB


def _solve(A: Any, B: Any, upper: bool, unit: bool = False) -> Any:
    if isinstance(A, Tensor) or isinstance(B, Tensor):
        return SolveTriangular.apply(A, B, upper=upper, unitriangular=unit)
    return _np_solve(A, B, upper, unit)


class Cholesky(Op):
    """L with A = L L^T, L lower triangular with a positive diagonal (A symmetric positive
    definite; only its lower triangle is read)."""

    save_output = True
    shapes = {"A": "(*,n,n)", "Y": "(*,n,n)"}

    def forward(self, A: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed "
                               "because the input is not positive-definite.") from None

    def backward(self, dY: Any) -> Any:
        """dA = sym(L^{-T} Phi(L^T dY) L^{-1})  (*,n,n) = (*,n,n)(*,n,n)(*,n,n)

        Phi keeps the lower triangle with the diagonal halved; sym(X) = (X + X^T) / 2.
        """
        L = self.output()
        n = self.input_shapes[0][-1]
        phi = np.tril(np.ones((n, n), _math.data(L).dtype))
        phi[np.diag_indices(n)] = 0.5
        P = _math.matmul(_mT(L), dY) * phi
        G = _solve(_mT(L), P, True)  # L^{-T} P
        G = _mT(_solve(_mT(L), _mT(G), True))  # (L^{-T} G^T)^T = G L^{-1}
        return (G + _mT(G)) * 0.5


def _square(fn: str, A: Tensor) -> None:
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{fn}: A must be batches of square matrices, but they are "
                         f"{A.shape[-2] if A.ndim >= 2 else A.ndim} by "
                         f"{A.shape[-1] if A.ndim else 0} matrices (shape {tuple(A.shape)})")


def _floating(fn: str, A: Any) -> Tensor:
    if not isinstance(A, Tensor):
        A = Tensor._make(np.asarray(A))
    if A._data.dtype.kind != "f":
        raise TypeError(f"{fn}: Expected a floating point tensor as input. Got {A.dtype}")
    return A


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite ``A`` (``torch.linalg.cholesky``):
    lower ``L`` with ``A = L L^T``, or ``L^T`` with ``upper=True``."""
    A = _floating("linalg.cholesky", A)
    _square("linalg.cholesky", A)
    L = Cholesky.apply(A)
    return _mT(L) if upper else L


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """``X`` with ``A X = B`` (``left=True``) or ``X A = B``, for triangular ``A``
    (``torch.linalg.solve_triangular``); batch dimensions broadcast."""
    fn = "linalg.solve_triangular"
    A, B = _floating(fn, A), _floating(fn, B)
    _square(fn, A)
    if B.ndim < 2:
        raise ShapeError(f"{fn}: The input tensor B must have at least 2 dimensions "
                         f"(got shape {tuple(B.shape)}).")
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise ShapeError(f"{fn}: Incompatible shapes of A and B for the equation "
                         f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{n} and "
                         f"{B.shape[-2]}x{B.shape[-1]})")
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"{fn}: Expected A and B to have the same dtype, but found A of "
                           f"type {A.dtype} and B of type {B.dtype} instead.")
    if left:
        return SolveTriangular.apply(A, B, upper=upper, unitriangular=unitriangular)
    # X A = B  <=>  A^T X^T = B^T, with A^T triangular the other way
    Xt = SolveTriangular.apply(_mT(A), _mT(B), upper=not upper, unitriangular=unitriangular)
    return _mT(Xt)


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """``A^{-1}`` from ``A``'s Cholesky factor (``torch.cholesky_inverse``).

    The value reads only L's triangle; the gradient is that of ``(L L^T)^{-1}`` with
    respect to every entry of L, as PyTorch's.
    """
    L = _floating("cholesky_inverse", L)
    _square("cholesky_inverse", L)
    if upper:
        L = _mT(L)
    n = L.shape[-1]
    other = L._data * (1 - np.tril(np.ones((n, n), L._data.dtype)))
    if other.any():  # the other triangle: dropped from the value, not from the gradient
        L = L - Tensor._make(other)
    A = _math.matmul(L, _mT(L))
    eye = Tensor._make(np.broadcast_to(np.eye(n, dtype=L._data.dtype), A.shape))
    Linv = SolveTriangular.apply(Cholesky.apply(A), eye, upper=False)
    return _math.matmul(_mT(Linv), Linv)
