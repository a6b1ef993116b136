"""``cr.autograd.Variable``: the pre-0.4 wrapper, a no-op as in PyTorch 2.

``Variable(t)`` returns a new leaf tensor sharing ``t``'s memory (``t.detach()``, with
``requires_grad`` as asked), as PyTorch's does, so old scripts run unchanged;
``isinstance(x, Variable)`` is True for every tensor.
"""

from __future__ import annotations

from typing import Any


class _VariableMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        from chainrule.tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)``: returns ``data`` as a tensor."""

    def __new__(cls, data: Any = None, requires_grad: bool = False,
                volatile: bool = False) -> Any:
        from chainrule.tensor import Tensor, tensor

        t = data.detach() if isinstance(data, Tensor) else tensor([] if data is None else data)
        if requires_grad:
            t.requires_grad_(True)
        return t
