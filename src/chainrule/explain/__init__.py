"""``cr.explain``: the backward pass of a graph as a table of local rules with real shapes.

Each op documents its backward once, in the seeds' style: the backward docstring holds one
line per input, ``rule  shape-equation`` (``dX = dY @ W  (N,in) = (N,out)(out,in)``), and
the class attribute ``shapes`` names each operand's symbolic shape (``{"X": "(N,in)", ...,
"Y": "(N,out)"}``). ``explain`` binds those symbols to a node's real shapes (``N=64``,
``in=1000``) and prints each rule with numbers, one row per node in the order the engine
visits them, with the Branch (fan-out) and Repeat/Sum (broadcast) steps made visible.

Example::

    >>> loss = ((x @ w1).relu() @ w2 - y).pow(2).sum()
    >>> loss.backward()
    >>> print(cr.explain(loss))
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.rules import format_shape
from chainrule.explain._rows import Builder, Operand, Row, Rule
from chainrule.explain._table import Explanation
from chainrule.tensor import Tensor

__all__ = ["explain", "Explanation", "Row", "Rule", "Operand", "format_shape"]


def explain(tensor: Tensor, params: Any = None) -> Explanation:
    """The backward pass of ``tensor``'s graph, one row per step in the order backward runs.

    Each node's row shows its op, input and output shapes, its local gradient rules (from
    the op's backward docstring) with the real shapes substituted, and, after a
    ``backward()``, the norm of the gradient that reached it. A tensor used by several
    nodes gets a Branch step (its gradients add); an input broadcast by a binary op is
    noted as summed over the broadcast axes (Repeat/Sum); leaves end with AccumulateGrad
    steps and the norm of their ``.grad``. Works after ``backward()`` freed the graph.

    Args:
        tensor: the output whose graph to explain (e.g. the loss).
        params: names for leaf tensors: a dict ``name -> tensor`` (e.g.
            ``dict(model.named_parameters())``) or a Module. By default the parameters of
            the last Module called are named (``0.weight``); other leaves are ``x0, x1, ...``.

    Example::

        >>> x = cr.randn(64, 1000)
        >>> w = cr.randn(1000, 10, requires_grad=True)
        >>> loss = (x @ w).pow(2).sum()
        >>> loss.backward()
        >>> print(cr.explain(loss))  # MatMul's row: dW = X.T @ dY  (1000,10) = (1000,64)(64,10)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"explain: expected a Tensor, got {type(tensor).__name__}")
    builder = Builder(tensor, params)
    return Explanation(tensor, builder.rows())
