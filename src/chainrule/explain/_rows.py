"""The rows of ``cr.explain``: one per step of the backward pass, in the engine's order.

Each op row binds the symbols of the op's rule (:mod:`chainrule.autograd.rules`) to the
node's real shapes; Branch rows show a tensor whose gradients add (fan-out), leaf rows
the AccumulateGrad into ``.grad``. The order is the engine's own
(:func:`chainrule.autograd.engine.backward_order`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.engine import backward_order
from chainrule.autograd.function import FunctionNode, Node, _norm
from chainrule.autograd.rules import (
    OpRules,
    Token,
    _split,
    format_shape,
    op_rules,
    operand_names,
    substitute_equation,
    unify,
)
from chainrule.nn.modules.module import parameter_names
from chainrule.tensor import Tensor

Shape = tuple[int, ...]



@dataclass
class Rule:
    """One local gradient rule of a node, with its shapes.

    Attributes:
        grad: the rule's left-hand side (``"dX"``).
        operand: index of the forward input the rule is for, or None if unknown.
        rule: the rule as written in the op's backward docstring (``"dX = dY @ W"``).
        symbolic: its shape equation as written (``"(N,in) = (N,out)(out,in)"``), or "".
        shapes: the shape equation with the real sizes (``"(64,1000) = (64,100)(100,1000)"``);
            symbols that could not be bound stay symbolic.
        bound: whether every symbol of the shape equation was bound to a number.
        needed: whether a gradient flows to that input (False for inputs that need none,
            whose rule the backward skips).
        comment: a remark written after the shape equation (``(0 at x = 0)``), or "".
    """

    grad: str
    operand: int | None
    rule: str
    symbolic: str
    shapes: str
    bound: bool
    needed: bool = True
    comment: str = ""

    def __str__(self) -> str:
        text = f"{self.rule}  {self.shapes}" if self.shapes else self.rule
        return f"{text}   {self.comment}" if self.comment else text


@dataclass
class Operand:
    """A forward input of a row's node.

    Attributes:
        name: the forward parameter's name (``"X"``, ``"weight"``).
        shape: the input's shape.
        source: where its gradient goes: ``"#3"`` (the step that handles that tensor next:
            the node that made it, or a Branch), a leaf's name (``"0.weight"``, ``"x0"``),
            or None when no gradient flows to it (a constant, or a tensor that does not
            require grad).
        step: the step number behind ``source`` (for a leaf: its AccumulateGrad step, or
            its Branch step when several nodes use it).
        output: which output of the producing node it is (0 unless a node has several).
        symbolic: its shape as the op documents it (``"(N,in)"``), or "".
    """

    name: str
    shape: Shape
    source: str | None
    step: int | None = None
    output: int = 0
    symbolic: str = ""

    def __str__(self) -> str:
        src = "" if self.source is None or self.source == self.name else f"={self.source}"
        return f"{self.name}{src} {format_shape(self.shape)}"


@dataclass
class Row:
    """One step of the backward pass.

    Attributes:
        step: 1-based position in the order backward visits the steps.
        kind: ``"op"`` (a node's local rules), ``"branch"`` (a tensor used by several
            nodes: their gradients add, the seeds' Branch) or ``"leaf"`` (AccumulateGrad:
            the gradient lands in a leaf's ``.grad``).
        op: ``"MatMul"``, ``"Branch"``, ``"AccumulateGrad"``.
        name: the node's name (``"MatMulBackward"``), or the leaf's name.
        inputs: the forward inputs.
        output_shapes: shape of each output.
        rules: the local gradient rules with real shapes.
        notes: gradients summed over broadcast axes (Repeat/Sum), fan-out.
        grad_norms: per output, the norm of the gradient that reached it in the last
            backward (for a leaf: of its ``.grad``); None before a backward, or when norms
            are not recorded (``chainrule.autograd.engine.record_grad_norms = False``).
        symbols: the shape symbols bound for this node (``{"N": 64, "in": 1000}``).
        summed_axes: forward input index -> the axes its gradient is summed over.
    """

    step: int
    kind: str
    op: str
    name: str
    inputs: list[Operand]
    output_shapes: list[Shape]
    rules: list[Rule] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grad_norms: list[float | None] = field(default_factory=list)
    symbols: dict[str, Any] = field(default_factory=dict)
    summed_axes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    node: Node | None = field(default=None, repr=False, compare=False)


# ---------------------------------------------------------------------------------------
# the graph, walked as the engine walks it
# ---------------------------------------------------------------------------------------


def _param_names(params: Any, leaves: Collection[int] | None = None) -> dict[int, str]:
    """{id(tensor): name} from ``params``, or from the last Modules called that own one of
    ``leaves`` (prefixed by module when several would give the same name)."""
    names: dict[int, str] = {}
    if params is None:
        return dict(parameter_names(leaves) or {})
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, Mapping) else params
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(
                f"explain: params must map names to tensors, got {type(t).__name__} for "
                f"{name!r}"
            )
        names[id(t)] = str(name)
    return names


def _norm_text(v: float | None) -> str:
    return "" if v is None else f"{v:.4g}"


def _leaf_norm(t: Tensor) -> float | None:
    return None if t.grad is None else _norm(t.grad._data)


def _labels(tokens: list[Token], shape: Shape) -> list[tuple[Any, ...]] | None:
    """Per real dimension, what the symbolic shape calls it (a symbol, a star element)."""
    pairs = _split(tokens, shape)
    if pairs is None:
        return None
    out: list[tuple[Any, ...]] = []
    for (kind, value), dim in pairs:
        if kind == "star":
            out.extend(("star", value, j) for j in range(len(dim)))
        else:
            out.append((kind, value))
    return out


def _summed_axes(
    tok_in: list[Token], tok_out: list[Token], s_in: Shape, s_out: Shape
) -> tuple[int, ...] | None:
    """The output axes an input's gradient is summed over when it was broadcast (Repeat).

    Decided from the symbolic shapes, not the sizes alone: ``b (out,)`` against
    ``Y (N,out)`` is a broadcast, ``X (N,in)`` against ``Y (N,out)`` with ``in=1`` is not.
    """
    lab_in, lab_out = _labels(tok_in, s_in), _labels(tok_out, s_out)
    if lab_in is None or lab_out is None or len(s_in) > len(s_out):
        return None
    lead = len(s_out) - len(s_in)
    axes = [k for k in range(lead) if s_out[k] != 1]
    for j, (li, lo) in enumerate(zip(lab_in, lab_out[lead:], strict=True)):
        di, do = s_in[j], s_out[lead + j]
        free = li[0] == "star" or li == ("int", 1)
        if li == lo or (free and di == do):
            if di != do:
                return None
        elif free and di == 1:
            axes.append(lead + j)  # here do != 1: a size-1 axis broadcast to do
        else:
            return None
    return tuple(axes)


_SUMS = re.compile(r"unbroadcast\(|\.sum\(|\bsum over\b")


def _sums_back(rules: list[Rule], i: int, n_inputs: int) -> bool:
    """Whether input i's gradient may be a Repeat/Sum: its rule sums (``unbroadcast``,
    ``.sum(``), or, where the op documents no rule for it, the op is binary."""
    mine = [r.rule for r in rules if r.operand == i]
    if not mine:
        return n_inputs >= 2
    return any(_SUMS.search(text) and "dY[" not in text for text in mine)


def _bind(
    info: OpRules,
    names: list[str],
    shapes_in: tuple[Shape, ...],
    shapes_out: tuple[Shape, ...],
    needs: tuple[bool, ...],
) -> tuple[list[Rule], list[str], dict[int, tuple[int, ...]], dict[str, Any]]:
    """A node's rules with real shapes, its Repeat/Sum notes and its bound symbols."""
    # bind the symbols: inputs by parameter name, outputs as Y (or Y0, Y1, ...)
    binds: dict[str, Any] = {}
    conflicts: set[str] = set()
    operands = list(zip(names, shapes_in, strict=True))
    for k, shape in enumerate(shapes_out):
        operands.append(("Y" if k == 0 and "Y" in info.shapes else f"Y{k}", shape))
    matched = {}
    for name, shape in operands:
        tokens = info.shapes.get(name)
        if tokens is not None and unify(tokens, shape, binds, conflicts, info.folds_batch):
            matched[name] = tokens
    rules = []
    for spec in info.rules:
        if spec.operand in info.names and spec.operand not in names:
            continue  # an optional input this node did not get (Linear without bias)
        index = names.index(spec.operand) if spec.operand in names else None
        real, bound = substitute_equation(spec.shapes, binds) if spec.shapes else ("", False)
        needed = index is None or needs[index]
        rules.append(Rule(spec.grad, index, spec.text, spec.shapes, real, bound, needed,
                          spec.comment))
    # Repeat/Sum: a broadcast input's gradient is summed back to its shape
    notes = []
    summed = {}
    y_name = "Y" if "Y" in matched else "Y0"
    if y_name in matched and len(shapes_out) == 1:
        for i, (name, shape) in enumerate(zip(names, shapes_in, strict=True)):
            if not needs[i] or name not in matched or not _sums_back(rules, i, len(shapes_in)):
                continue
            axes = _summed_axes(matched[name], matched[y_name], shape, shapes_out[0])
            if axes:
                summed[i] = axes
                where = f"axis {axes[0]}" if len(axes) == 1 else f"axes {axes}"
                notes.append(
                    f"{name}: {format_shape(shape)} = sum over {where} of "
                    f"{format_shape(shapes_out[0])}  (Repeat/Sum)"
                )
    return rules, notes, summed, binds


class Builder:
    """Builds the rows for one root tensor."""

    def __init__(self, tensor: Tensor, params: Any) -> None:
        self.tensor = tensor
        self._local: dict[Any, Any] = {}  # (class, shapes, needs) -> what _bind returns
        root = tensor.grad_fn
        self.order = backward_order(root) if root is not None else []
        # consumers of every tensor: key (node, output_nr) or id(leaf) -> consumer nodes
        self.consumers: dict[Any, list[Node]] = {}
        self.leaves: list[Tensor] = []  # in the order their gradients first arrive
        seen: set[int] = set()
        for node in self.order:
            for edge in node.next_edges:
                if edge is None:
                    continue
                target = edge[0]
                key = (target, edge[1]) if isinstance(target, Node) else id(target)
                self.consumers.setdefault(key, []).append(node)
                if not isinstance(target, Node) and id(target) not in seen:
                    seen.add(id(target))
                    self.leaves.append(target)
        if root is None and tensor.requires_grad:
            self.leaves.append(tensor)
        self.leaf_of = {id(t): t for t in self.leaves}
        self.names = _param_names(params, self.leaf_of)
        self._name_leaves()
        self._number_steps()

    def _name_leaves(self) -> None:
        """Leaves without a parameter name get x0, x1, ... in the order the forward used them."""
        self.leaf_name: dict[int, str] = {}
        k = 0
        taken = set(self.names.values())
        for node in sorted(self.order, key=lambda n: n.seq):
            for edge in node.next_edges:
                if edge is None or isinstance(edge[0], Node) or id(edge[0]) in self.leaf_name:
                    continue
                t = edge[0]
                name = self.names.get(id(t))
                if name is None:
                    while f"x{k}" in taken:
                        k += 1
                    name = f"x{k}"
                    k += 1
                self.leaf_name[id(t)] = name
        for t in self.leaves:
            if id(t) not in self.leaf_name:
                self.leaf_name[id(t)] = self.names.get(id(t), "x0")

    def _number_steps(self) -> None:
        """Steps: each node, preceded by a Branch per fanned-out output; then the leaves."""
        self.plan: list[tuple[str, Any]] = []
        for node in self.order:
            for nr in range(len(node.out_shapes)):
                if len(self.consumers.get((node, nr), ())) > 1:
                    self.plan.append(("branch", (node, nr)))
            self.plan.append(("op", node))
        for t in self.leaves:
            if len(self.consumers.get(id(t), ())) > 1:
                self.plan.append(("branch", id(t)))
            self.plan.append(("leaf", t))
        # where the gradient of each tensor goes next (its Branch, else its producer/leaf)
        self.step_of: dict[Any, int] = {}
        for i, (kind, obj) in enumerate(self.plan, start=1):
            if kind == "branch":
                self.step_of[obj] = i
            elif kind == "op":
                for nr in range(len(obj.out_shapes)):
                    self.step_of.setdefault((obj, nr), i)
                self.step_of[("node", obj)] = i
            else:
                self.step_of.setdefault(id(obj), i)
                self.step_of[("leaf", id(obj))] = i

    def _operand(self, name: str, shape: Shape, edge: Any) -> Operand:
        if edge is None:
            return Operand(name, shape, None)
        target, nr = edge
        if isinstance(target, Node):
            step = self.step_of[(target, nr)]
            multi = len(target.out_shapes) > 1 and self.step_of[("node", target)] == step
            return Operand(name, shape, f"#{step}.{nr}" if multi else f"#{step}", step, nr)
        return Operand(name, shape, self.leaf_name[id(target)], self.step_of[id(target)])

    def rows(self) -> list[Row]:
        out = []
        for i, (kind, obj) in enumerate(self.plan, start=1):
            if kind == "op":
                out.append(self._op_row(i, obj))
            elif kind == "branch":
                out.append(self._branch_row(i, obj))
            else:
                out.append(self._leaf_row(i, obj))
        return out

    def _op_row(self, step: int, node: Node) -> Row:
        info = op_rules(type(node))
        shapes_in = tuple(tuple(s) for s in node.input_shapes)
        shapes_out = tuple(tuple(s) for s in node.out_shapes)
        names = operand_names(info, len(shapes_in))
        inputs = [
            self._operand(name, shape, edge)
            for name, shape, edge in zip(names, shapes_in, node.next_edges, strict=True)
        ]
        for operand in inputs:
            operand.symbolic = str(info.symbolic.get(operand.name, ""))
        # nodes of one class with the same shapes have the same rows: bind them once
        needs = tuple(e is not None for e in node.next_edges)
        key = (type(node), shapes_in, shapes_out, needs)
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = _bind(info, names, shapes_in, shapes_out, needs)
        rules, notes, summed, binds = local
        norms = node.gradient_norms() if node.grad_norms is not None else [None] * len(shapes_out)
        return Row(step, "op", _op_name(node), node.name(), inputs, list(shapes_out),
                   [copy.copy(r) for r in rules], list(notes), list(norms),
                   dict(binds), dict(summed), node)

    def _branch_row(self, step: int, key: Any) -> Row:
        """The seeds' Branch: a tensor used k times receives the sum of k gradients."""
        if isinstance(key, tuple):  # output nr of a node
            node, nr = key
            shape = tuple(node.out_shapes[nr])
            src_step = self.step_of[("node", node)]
            name = f"#{src_step}.{nr}" if len(node.out_shapes) > 1 else f"#{src_step}"
            norm = node.gradient_norms()[nr] if node.grad_norms is not None else None
        else:  # a leaf
            t = self.leaf_of[key]
            nr, shape, name = 0, tuple(t.shape), self.leaf_name[key]
            src_step = self.step_of[("leaf", key)]
            norm = None  # the sum is not kept apart from .grad (see AccumulateGrad)
        users = [self.step_of[("node", c)] for c in self.consumers[key]]
        k = len(users)
        s = format_shape(shape)
        if k <= 4:
            text = "dx = " + " + ".join(f"dx_{j}" for j in range(1, k + 1))
            shapes = f"{s} = " + " + ".join([s] * k)
        else:
            text = f"dx = dx_1 + dx_2 + ... + dx_{k}"
            shapes = f"{s} = {k} x {s}"
        rule = Rule("dx", 0, text, shapes, shapes, True)
        used = ", ".join(
            f"#{u}" if users.count(u) == 1 else f"#{u} x{users.count(u)}"
            for u in sorted(set(users))
        )
        note = f"{name} is used {k} times (by {used}): its gradients add  (Branch)"
        operand = Operand("x", shape, name, src_step, nr)
        return Row(step, "branch", "Branch", name, [operand], [shape], [rule], [note], [norm])

    def _leaf_row(self, step: int, t: Tensor) -> Row:
        name = self.leaf_name[id(t)]
        shape = tuple(t.shape)
        s = format_shape(shape)
        rule = Rule(f"{name}.grad", 0, f"{name}.grad += d{name}" if name.isidentifier()
                    else f"{name}.grad += d({name})", f"{s} = {s}", f"{s} = {s}", True)
        return Row(step, "leaf", "AccumulateGrad", name, [Operand(name, shape, name, step)],
                   [shape], [rule], [], [_leaf_norm(t)])


def _op_name(node: Node) -> str:
    """The op's short name: ``MatMul`` for an Op, the Function's name for a FunctionNode."""
    if isinstance(node, FunctionNode):
        return node._fn_cls.__name__
    return type(node).__name__
