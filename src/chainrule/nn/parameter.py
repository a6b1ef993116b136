"""``nn.Parameter``: a Tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered by ``Module.__setattr__``.

    ``Parameter(t)`` shares memory with the tensor ``t`` (as PyTorch does); an ndarray is
    used as is. ``Parameter()`` is an empty float tensor.

    Example::

        >>> w = nn.Parameter(cr.zeros(2, 3))
        >>> w.requires_grad, w.is_leaf
        (True, True)
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty((0,), dtypes.get_default_dtype())
            version = [0]
        elif isinstance(data, Tensor):
            arr, version = data._data, data._version
        elif isinstance(data, np.ndarray):
            arr, version = data, [0]
        else:
            raise TypeError(f"Parameter: expected a Tensor (or ndarray) as data, got "
                            f"{type(data).__name__}")
        self._data = arr
        self.requires_grad = False
        self.grad_fn = None
        self._version = version
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild_parameter, (self._data, self.requires_grad, self.grad))

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self._data.copy(), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = result
        return result


def _rebuild_parameter(data: np.ndarray, requires_grad: bool, grad: Any) -> Parameter:
    p = Parameter(data, requires_grad)
    if grad is not None:
        p.grad = grad
    return p
