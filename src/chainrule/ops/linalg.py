"""Linear-algebra nodes: matmul (the seeds' affine product), einsum, and the fused layers.

``Linear`` and ``Bilinear`` are single nodes whose backward rules are the seeds'
derivations (seed 001; docs/derivations.md section 4): ``Y = X W^T + b`` gives
``dX = dY W``, ``dW = dY^T X``, ``db = dY^T 1``; ``y_k = x1^T A_k x2 + b_k`` gives
``dx1 = sum_k dy_k A_k x2``, ``dx2 = sum_k dy_k A_k^T x1``, ``dA_k = sum_n dy_nk x1_n x2_n^T``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.ops.arithmetic import into
from chainrule.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "outer", "dot", "einsum", "linear", "bilinear"]


def _operand(x: Any) -> Any:
    return x if isinstance(x, Tensor | np.ndarray) else np.asarray(x)


def _dtype_error(op: str, dtypes: Sequence[Any]) -> RuntimeError:
    return RuntimeError(
        f"{op}: expected all operands to have the same dtype, got "
        f"{', '.join(str(d) for d in dtypes)} (convert with .float() or .double())"
    )


# -- matmul ---------------------------------------------------------------------------


def _matmul_error(a: Any, b: Any, op: str = "matmul") -> ShapeError:
    """Explain why ``a @ b`` fails, naming both shapes."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    if not sa or not sb:
        return ShapeError(
            f"{op}: both arguments need to be at least 1-D, got shapes {sa} and {sb}"
        )
    ka, kb = len(sa) - 1, max(len(sb) - 2, 0)
    if sa[ka] != sb[kb]:
        return ShapeError(
            f"{op}: shapes {sa} and {sb} are not aligned: {sa[ka]} (dim {ka} of the first) "
            f"!= {sb[kb]} (dim {kb} of the second)"
        )
    return ShapeError(
        f"{op}: the batch dimensions {sa[:-2]} and {sb[:-2]} of shapes {sa} and {sb} cannot "
        "be broadcast together"
    )


def _swap(x: Any) -> Any:
    """Transpose of the last two dimensions (``.T`` for matrices)."""
    return x.T if len(x.shape) == 2 else _math.swapaxes(x, -1, -2)


class MatMul(Op):
    """Y = A @ B (NumPy rules: 1-D operands promoted, batch dimensions broadcast)."""

    save_inputs = (0, 1)
    shapes = {"A": "(N,K)", "B": "(K,M)", "Y": "(N,M)"}

    def forward(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        if A.dtype != B.dtype:
            raise _dtype_error("matmul", (A.dtype, B.dtype))
        try:
            return np.matmul(A, B)
        except ValueError:
            raise _matmul_error(A, B) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dA = dY @ B.T  (N,K) = (N,M)(M,K)
        dB = A.T @ dY  (K,M) = (K,N)(N,M)"""
        A, B = self.input(0), self.input(1)
        sa, sb = self.input_shapes
        need_a, need_b = self.needs_input_grad
        if len(sa) == 2 and len(sb) == 2:  # the seeds' case: no batch, no promotion
            return (dY @ B.T if need_a else None), (A.T @ dY if need_b else None)
        if len(sa) == 1 and len(sb) == 1:  # dot product: dY is a scalar
            return (dY * B if need_a else None), (dY * A if need_b else None)
        # promote 1-D operands to matrices, as the forward did: (K,) -> (1,K) or (K,1)
        if len(sa) == 1:
            A = A.reshape(1, sa[0])
            dY = dY.reshape((*dY.shape[:-1], 1, dY.shape[-1]))
        if len(sb) == 1:
            B = B.reshape(sb[0], 1)
            dY = dY.reshape((*dY.shape, 1))
        dA = dB = None
        if need_a:
            dA = unbroadcast(dY @ _swap(B), tuple(A.shape))  # (*,N,K) = (*,N,M)(*,M,K)
            dA = dA if len(sa) > 1 else dA.reshape(sa)
        if need_b:
            if len(B.shape) == 2 and len(A.shape) > 2:
                # a batch times one matrix: fold the batch into N (one GEMM, no batch sum)
                k, m = B.shape
                dB = A.reshape(-1, k).T @ dY.reshape(-1, m)  # (K,M) = (K,*N)(*N,M)
            else:
                dB = unbroadcast(_swap(A) @ dY, tuple(B.shape))  # (*,K,M) = (*,K,N)(*,N,M)
            dB = dB if len(sb) > 1 else dB.reshape(sb)
        return dA, dB


def matmul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are promoted (and the added
    dimension removed again), batch dimensions broadcast.

    Shape: ``(*, N, K) @ (*, K, M) -> (*, N, M)``; ``(K,) @ (K,) -> ()``.
    """
    result = MatMul.apply(_operand(input), _operand(other))
    return result if out is None else into("matmul", out, result)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices: ``(N, K) @ (K, M) -> (N, M)`` (2-D only)."""
    a, b = _operand(input), _operand(mat2)
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ShapeError(
            f"mm: expected two 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[1] != b.shape[0]:
        raise _matmul_error(a, b, "mm")
    return MatMul.apply(a, b)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product: ``(B, N, K) @ (B, K, M) -> (B, N, M)`` (3-D, equal batches)."""
    a, b = _operand(input), _operand(mat2)
    sa, sb = tuple(a.shape), tuple(b.shape)
    if len(sa) != 3 or len(sb) != 3:
        raise ShapeError(f"bmm: expected two 3-D tensors, got shapes {sa} and {sb}")
    if sa[0] != sb[0]:
        raise ShapeError(f"bmm: batch sizes differ: shapes {sa} and {sb} ({sa[0]} != {sb[0]})")
    if sa[2] != sb[1]:
        raise _matmul_error(a, b, "bmm")
    return MatMul.apply(a, b)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of equal length."""
    a, b = _operand(input), _operand(other)
    if len(a.shape) != 1 or len(b.shape) != 1:
        raise ShapeError(
            f"dot: expected two 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape != b.shape:
        raise _matmul_error(a, b, "dot")
    return MatMul.apply(a, b)


class Outer(Op):
    """Y = a b^T: the outer product of two vectors."""

    save_inputs = (0, 1)
    shapes = {"a": "(N,)", "b": "(M,)", "Y": "(N,M)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.dtype != b.dtype:
            raise _dtype_error("outer", (a.dtype, b.dtype))
        return np.multiply.outer(a, b)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = dY @ b  (N,) = (N,M)(M,)
        db = dY.T @ a  (M,) = (M,N)(N,)"""
        da = dY @ self.input(1) if self.needs_input_grad[0] else None
        db = dY.T @ self.input(0) if self.needs_input_grad[1] else None
        return da, db


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product ``(N,) x (M,) -> (N, M)``."""
    a, b = _operand(input), _operand(vec2)
    if len(a.shape) != 1 or len(b.shape) != 1:
        raise ShapeError(
            f"outer: expected two 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return Outer.apply(a, b)


# -- einsum ---------------------------------------------------------------------------


def _parse_einsum(equation: str, shapes: Sequence[tuple[int, ...]]) -> tuple[list[str], str]:
    """Split an equation into one label string per operand and the output's labels,
    with ``...`` replaced by explicit labels (right-aligned, as broadcasting aligns)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(
            f"einsum: equation {equation!r} has {len(terms)} operand(s) but {len(shapes)} "
            "were given"
        )
    letters = set(eq) - set(".,->")
    bad = [c for c in letters if c not in string.ascii_letters]
    if bad or "->" in rhs:
        raise ValueError(f"einsum: invalid equation {equation!r}: labels must be letters a-zA-Z")
    free = [c for c in string.ascii_letters if c not in letters]
    n_ell = max((len(s) - len(t) + 3 for t, s in zip(terms, shapes, strict=True) if "..." in t),
                default=0)
    ell = "".join(free[:n_ell])
    out_terms = []
    for t, s in zip(terms, shapes, strict=True):
        if "..." in t:
            k = len(s) - len(t) + 3
            t = t.replace("...", ell[n_ell - k :] if k > 0 else "")
        if len(t) != len(s) or "." in t:
            raise ShapeError(
                f"einsum: the subscripts {t!r} do not match an operand of shape {s} in "
                f"{equation!r}"
            )
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: broadcast labels, then labels used exactly once, sorted
        once = sorted(c for c in letters if lhs.count(c) == 1)
        out = ell + "".join(once)
    return out_terms, out


class Einsum(Op):
    """Y = einsum(equation, *operands): sums of products over labelled dimensions."""

    save_inputs: tuple[int, ...] = ()
    shapes = {"Y": "(*y)"}

    def forward(self, *x: np.ndarray, terms: list[str], out: str) -> np.ndarray:
        if any(a.dtype != x[0].dtype for a in x):
            raise _dtype_error("einsum", [a.dtype for a in x])
        self.terms, self.out = terms, out
        eq = ",".join(terms) + "->" + out
        try:
            return np.einsum(eq, *x, optimize=len(x) > 1)
        except ValueError as e:
            shapes = ", ".join(str(a.shape) for a in x)
            raise ShapeError(f"einsum: cannot evaluate {eq!r} on shapes {shapes}: {e}") from None

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dx_i = einsum('y,others->x_i', dY, *others)  (*x_i) = (*y)"""
        n = len(self.terms)
        return tuple(self._grad(dY, i) if self.needs_input_grad[i] else None for i in range(n))

    def _grad(self, dY: Any, i: int) -> Any:
        """Gradient of operand i: the equation with operand i moved to the output.

        A label repeated in operand i (a diagonal, e.g. ``ii->i``) gets a fresh label per
        extra occurrence tied to the first by an identity matrix; a label only operand i
        has (summed over inside it, e.g. ``ij->j``) is restored by a vector of ones.
        """
        term, shape = self.terms[i], self.input_shapes[i]
        others = [t for j, t in enumerate(self.terms) if j != i]
        used = set("".join(self.terms) + self.out)
        free = iter(c for c in string.ascii_letters if c not in used)
        subs, operands = [self.out], [dY]
        subs += others
        operands += [self.input(j) for j in range(len(self.terms)) if j != i]
        seen, target = set(), []
        dtype = dY.dtype
        for c, size in zip(term, shape, strict=True):
            if c in seen:
                new = next(free)
                subs.append(c + new)
                operands.append(np.eye(size, dtype=dtype))
                c = new
            seen.add(c)
            target.append(c)
        present = set("".join(subs))
        for c, size in zip(term, shape, strict=True):
            if c not in present:
                subs.append(c)
                operands.append(np.ones(size, dtype=dtype))
                present.add(c)
        g = _math.einsum(",".join(subs) + "->" + "".join(target), *operands)
        return unbroadcast(g, shape)  # dimensions of size 1 that were broadcast


_einsum_classes: dict[int, type[Einsum]] = {}


def _einsum_class(n: int) -> type[Einsum]:
    """``Einsum`` saving its n operands (``save_inputs`` is declared per class)."""
    cls = _einsum_classes.get(n)
    if cls is None:
        cls = type("Einsum", (Einsum,), {"save_inputs": tuple(range(n)),
                                          "__doc__": Einsum.__doc__})
        _einsum_classes[n] = cls
    return cls


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum`` (``...`` broadcasting, implicit output).

    Example: ``einsum('bij,bjk->bik', a, b)`` is a batched matmul. Operands may also be
    given as one list: ``einsum('ij,jk', [a, b])``.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ops = [_operand(o) for o in operands]
    terms, out = _parse_einsum(equation, [tuple(o.shape) for o in ops])
    return _einsum_class(len(ops)).apply(*ops, terms=terms, out=out)


# -- fused layers -----------------------------------------------------------------------


class Linear(Op):
    """Y = X @ W.T + b: the fully connected layer (weight (out,in), as PyTorch's)."""

    save_inputs = (0, 1)
    shapes = {"X": "(N,in)", "W": "(out,in)", "b": "(out,)", "Y": "(N,out)"}
    folds_batch = True  # X of shape (*, in) is used as (N, in) with N = prod(*)

    def forward(self, X: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        _check_linear(X, W, b)
        if X.ndim == 2:
            Y = X @ W.T  # (N,out) = (N,in)(in,out)
        else:  # fold the batch dimensions into N: one GEMM
            Y = (X.reshape(-1, W.shape[1]) @ W.T).reshape(*X.shape[:-1], W.shape[0])
        if b is not None:
            Y += b  # Y is a fresh array: add in place
        return Y

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = dY @ W  (N,in) = (N,out)(out,in)
        dW = dY.T @ X  (out,in) = (out,N)(N,in)
        db = dY.sum(0)  (out,)"""
        X, W = self.input(0), self.input(1)
        need = self.needs_input_grad
        x_shape = self.input_shapes[0]
        if len(x_shape) != 2:  # (*, in) -> (N, in) with N = prod(*)
            out_f, in_f = self.input_shapes[1]
            dY = dY.reshape(-1, out_f)
            X = X.reshape(-1, in_f) if need[1] else X
        dX = dW = None
        if need[0]:  # skipped for a network's first layer
            dX = dY @ W
            dX = dX if len(x_shape) == 2 else dX.reshape(x_shape)
        if need[1]:
            dW = dY.T @ X
        if len(need) == 2:
            return dX, dW
        return dX, dW, (_sum_rows(dY) if need[2] else None)


def _sum_rows(dY: Any) -> Any:
    """``dY.sum(0)``; for an ndarray as the product ``ones(N) @ dY``, a BLAS call about twice
    as fast as NumPy's reduction (the same sum, in another order)."""
    if type(dY) is not np.ndarray or dY.ndim != 2:
        return dY.sum(0)
    return _math.constant(1, dY.shape[:1], dY.dtype) @ dY


def _check_linear(X: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> None:
    """Raise, naming the shapes or dtypes, unless ``X @ W.T + b`` is a proper layer."""
    dtype = W.dtype
    if (W.ndim == 2 and X.shape[-1:] == W.shape[1:] and X.dtype == dtype
            and (b is None or (b.shape == W.shape[:1] and b.dtype == dtype))):
        return  # one test for the usual case; the diagnosis below runs only on an error
    if W.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out, in), got shape {W.shape}")
    if X.ndim == 0 or X.shape[-1] != W.shape[1]:
        raise ShapeError(
            f"linear: input {X.shape} does not match {_weight_text(W)}: the input's last "
            f"dimension must be {W.shape[1]}"
        )
    if b is not None and b.shape != (W.shape[0],):
        raise ShapeError(f"linear: bias of shape {b.shape} does not match {_weight_text(W)}: "
                         f"expected ({W.shape[0]},)")
    if X.dtype != W.dtype or (b is not None and b.dtype != W.dtype):
        raise _dtype_error("linear", [X.dtype, W.dtype] + ([b.dtype] if b is not None else []))


def _weight_text(W: np.ndarray) -> str:
    return f"weight (out={W.shape[0]}, in={W.shape[1]}) of shape {W.shape}"


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over any batch dimensions, as one node.

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``.
        bias: ``(out_features,)`` or None.

    Shape: ``(*, in) -> (*, out)``.

    Example::

        y = F.linear(x, w, b)  # (N, 3) x (4, 3)^T + (4,) -> (N, 4)
    """
    if not isinstance(input, Tensor):
        input = _operand(input)
    if not isinstance(weight, Tensor):
        weight = _operand(weight)
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias if isinstance(bias, Tensor) else _operand(bias))


class Bilinear(Op):
    """y_k = x1^T A_k x2 + b_k for each output k (weight A of shape (out,in1,in2))."""

    save_inputs = (0, 1, 2)
    shapes = {"x1": "(N,in1)", "x2": "(N,in2)", "A": "(out,in1,in2)", "b": "(out,)",
              "Y": "(N,out)"}
    folds_batch = True

    def forward(self, x1: np.ndarray, x2: np.ndarray, A: np.ndarray,
                b: np.ndarray | None = None) -> np.ndarray:
        _check_bilinear(x1, x2, A, b)
        out_f, in1, in2 = A.shape
        X1, X2 = x1.reshape(-1, in1), x2.reshape(-1, in2)
        Q = (X2 @ A.reshape(out_f * in1, in2).T).reshape(-1, out_f, in1)  # Q[n,k] = A_k x2_n
        Y = (Q @ X1.reshape(-1, in1, 1)).reshape(-1, out_f)  # (N,out,1) = (N,out,in1)(N,in1,1)
        if b is not None:
            Y += b
        return Y.reshape(*x1.shape[:-1], out_f)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dx1 = sum_k dy_k A_k x2  (N,in1) = (N,out)(out,in1,in2)(N,in2)
        dx2 = sum_k dy_k A_k^T x1  (N,in2) = (N,out)(out,in1,in2)(N,in1)
        dA_k = sum_n dy_nk x1_n x2_n^T  (out,in1,in2) = (N,out)(N,in1)(N,in2)
        db = dY.sum(0)  (out,)"""
        x1, x2, A = self.input(0), self.input(1), self.input(2)
        s1, s2, (out_f, in1, in2) = self.input_shapes[:3]
        need = self.needs_input_grad
        dY = dY.reshape(-1, out_f)  # batch dimensions folded into N
        X1, X2 = x1.reshape(-1, in1), x2.reshape(-1, in2)
        dx1 = dx2 = dA = None
        if need[0] or need[1]:
            # M_n = sum_k dy_nk A_k: (N,in1,in2) = (N,out)(out,in1*in2)
            M = (dY @ A.reshape(out_f, in1 * in2)).reshape(-1, in1, in2)
            if need[0]:
                dx1 = (M @ X2.reshape(-1, in2, 1)).reshape(s1)  # (N,in1,1) = (N,in1,in2)(N,in2,1)
            if need[1]:
                dx2 = (X1.reshape(-1, 1, in1) @ M).reshape(s2)  # (N,1,in2) = (N,1,in1)(N,in1,in2)
        if need[2]:
            # P_n = x1_n x2_n^T flattened: (N,in1*in2)
            P = (X1.reshape(-1, in1, 1) * X2.reshape(-1, 1, in2)).reshape(-1, in1 * in2)
            dA = (dY.T @ P).reshape(out_f, in1, in2)  # (out,in1*in2) = (out,N)(N,in1*in2)
        if len(need) == 3:
            return dx1, dx2, dA
        return dx1, dx2, dA, (dY.sum(0) if need[3] else None)


def _bilinear_weight_text(A: np.ndarray) -> str:
    out_f, in1, in2 = A.shape
    return f"weight (out={out_f}, in1={in1}, in2={in2}) of shape {A.shape}"


def _check_bilinear(x1: np.ndarray, x2: np.ndarray, A: np.ndarray, b: np.ndarray | None) -> None:
    if A.ndim != 3:
        raise ShapeError(f"bilinear: weight must be 3-D (out, in1, in2), got shape {A.shape}")
    out_f, in1, in2 = A.shape
    if x1.ndim == 0 or x1.shape[-1] != in1:
        raise ShapeError(f"bilinear: input1 {x1.shape} does not match "
                         f"{_bilinear_weight_text(A)}: its last dimension must be {in1} "
                         f"(input2 has shape {x2.shape})")
    if x2.ndim == 0 or x2.shape[-1] != in2:
        raise ShapeError(f"bilinear: input2 {x2.shape} does not match "
                         f"{_bilinear_weight_text(A)}: its last dimension must be {in2} "
                         f"(input1 has shape {x1.shape})")
    if x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(f"bilinear: input1 {x1.shape} and input2 {x2.shape} must have the "
                         "same batch dimensions")
    if b is not None and b.shape != (out_f,):
        raise ShapeError(f"bilinear: bias of shape {b.shape} does not match "
                         f"{_bilinear_weight_text(A)}: expected ({out_f},)")
    dtypes = [x1.dtype, x2.dtype, A.dtype] + ([b.dtype] if b is not None else [])
    if any(d != A.dtype for d in dtypes):
        raise _dtype_error("bilinear", dtypes)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = input1^T A_k input2 + b_k`` for each output feature k, as one node.

    Args:
        input1: ``(*, in1_features)``.
        input2: ``(*, in2_features)`` (same batch dimensions as ``input1``).
        weight: ``(out_features, in1_features, in2_features)``.
        bias: ``(out_features,)`` or None.

    Shape: ``(*, in1), (*, in2) -> (*, out)``.
    """
    ops = [_operand(input1), _operand(input2), _operand(weight)]
    if bias is not None:
        ops.append(_operand(bias))
    return Bilinear.apply(*ops)
