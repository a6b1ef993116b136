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

import ast
import copy
import heapq
import html
import inspect
import math
import operator
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainrule.autograd.function import FunctionNode, Node, Op, _norm
from chainrule.tensor import Tensor

__all__ = ["explain", "Explanation", "Row", "Rule", "Operand"]

Shape = tuple[int, ...]


# ---------------------------------------------------------------------------------------
# symbolic shapes: "(N,in)", "(out,)", "(*)", "(*a)", "(*,in)", "(N*C,)"
# ---------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_]\w*'*")
_STAR = re.compile(r"\*(?:[A-Za-z_]\w*)?")
_INT = re.compile(r"\d+")
_EXPR = re.compile(r"\w+(?:\s*[-+*/]\s*\w+)+")
_GROUP = re.compile(r"\(([^()]*)\)")
# words a shape equation may contain besides shapes: "(*x) = sum((*y))"
_SHAPE_WORDS = re.compile(r"\b(?:sum|mean|over|of|axis|axes|broadcast|to|batch)\b")
_SHAPE_LEFTOVER = re.compile(r"[\s=(),+*x×·@\d]*")

# a token of a symbolic shape: ("int", 3), ("sym", "N"), ("star", "*a"), ("expr", "N*C")
Token = tuple[str, Any]


def parse_shape(text: str) -> list[Token] | None:
    """Tokens of a symbolic shape given without its parentheses, or None if not a shape.

    ``"N,in"`` -> ``[("sym", "N"), ("sym", "in")]``; ``"out,"`` -> one token; ``"*"`` and
    ``"*a"`` stand for a whole (sub)shape; ``"N*C"`` is an expression of bound symbols.
    """
    s = text.strip()
    if not s:
        return []
    parts = [p.strip() for p in s.split(",")]
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    tokens: list[Token] = []
    for p in parts:
        if _INT.fullmatch(p):
            tokens.append(("int", int(p)))
        elif _STAR.fullmatch(p):
            tokens.append(("star", p))
        elif _IDENT.fullmatch(p):
            tokens.append(("sym", p))
        elif _EXPR.fullmatch(p):
            tokens.append(("expr", p))
        else:
            return None
    return tokens


def _split(tokens: list[Token], shape: Shape) -> list[tuple[Token, Any]] | None:
    """Pair each token with its part of ``shape`` (a star takes a tuple), or None."""
    stars = [i for i, t in enumerate(tokens) if t[0] == "star"]
    if len(stars) > 1:
        return None
    if not stars:
        if len(tokens) != len(shape):
            return None
        return list(zip(tokens, shape, strict=True))
    k = stars[0]
    n_after = len(tokens) - k - 1
    if len(shape) < len(tokens) - 1:
        return None
    end = len(shape) - n_after
    pairs: list[tuple[Token, Any]] = list(zip(tokens[:k], shape[:k], strict=True))
    pairs.append((tokens[k], tuple(shape[k:end])))
    pairs.extend(zip(tokens[k + 1 :], shape[end:], strict=True))
    return pairs


def unify(tokens: list[Token], shape: Shape, binds: dict[str, Any], conflicts: set[str],
          fold: bool = False) -> bool:
    """Bind the symbols of ``tokens`` to the dimensions of the real ``shape``.

    Symbols already bound to another value become conflicting and are unbound (shown
    symbolically). Returns False, binding nothing, when the structure does not match.
    With ``fold`` (ops that fold batch dimensions into N, as Linear does), a shape with
    more leading dimensions than ``tokens`` binds the first symbol to their product.
    """
    shape = tuple(shape)
    if (fold and tokens and tokens[0][0] == "sym" and len(shape) > len(tokens)
            and not any(t[0] == "star" for t in tokens)):
        k = len(shape) - len(tokens) + 1
        shape = (math.prod(shape[:k]),) + shape[k:]
    pairs = _split(tokens, shape)
    if pairs is None:
        return False
    if any(kind == "int" and value != dim for (kind, value), dim in pairs):
        return False
    for (kind, value), dim in pairs:
        if kind not in ("sym", "star") or value in conflicts:
            continue
        if value in binds and binds[value] != dim:
            conflicts.add(value)
            del binds[value]
        else:
            binds[value] = dim
    return True


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Div: operator.floordiv}


def _eval_expr(expr: str, binds: Mapping[str, Any]) -> int | None:
    """Value of an expression like ``N*C`` once its symbols are bound to ints, else None."""
    unbound = False

    def value(m: re.Match[str]) -> str:
        nonlocal unbound
        v = binds.get(m.group(0))
        if not isinstance(v, int):
            unbound = True
            return "0"
        return str(v)

    text = re.sub(r"[A-Za-z_]\w*", value, expr)
    if unbound:
        return None

    def ev(n: ast.AST) -> int:
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
            return _BINOPS[type(n.op)](ev(n.left), ev(n.right))
        raise ValueError(expr)

    try:
        return ev(ast.parse(text, mode="eval").body)
    except (ValueError, SyntaxError, ZeroDivisionError):
        return None


def format_shape(shape: Shape) -> str:
    """``(64, 1000)`` written as the seeds write shapes: ``(64,1000)``, ``(100,)``, ``()``."""
    items = [str(int(d)) for d in shape]
    return "(" + ",".join(items) + ("," if len(items) == 1 else "") + ")"


def substitute_shape(tokens: list[Token], binds: Mapping[str, Any]) -> tuple[str, bool]:
    """A symbolic shape with its bound symbols replaced by numbers; and whether all were."""
    items: list[str] = []
    complete = True
    for kind, value in tokens:
        if kind == "int":
            items.append(str(value))
        elif kind in ("sym", "star") and value in binds:
            v = binds[value]
            if kind == "star":
                items.extend(str(d) for d in v)
            else:
                items.append(str(v))
        elif kind == "expr" and (n := _eval_expr(value, binds)) is not None:
            items.append(str(n))
        else:
            items.append(value)
            complete = False
    if complete:
        return "(" + ",".join(items) + ("," if len(items) == 1 else "") + ")", True
    # a trailing comma only where the symbolic form needs one: (out,) but (*a)
    comma = len(tokens) == 1 and tokens[0][0] != "star"
    return "(" + ",".join(items) + ("," if comma else "") + ")", False


def substitute_equation(equation: str, binds: Mapping[str, Any]) -> tuple[str, bool]:
    """Every shape of a shape equation with numbers in place of its bound symbols."""
    complete = True
    found = False

    def repl(m: re.Match[str]) -> str:
        nonlocal complete, found
        tokens = parse_shape(m.group(1))
        if tokens is None:
            return m.group(0)
        found = True
        text, ok = substitute_shape(tokens, binds)
        complete = complete and ok
        return text

    out = _GROUP.sub(repl, equation)
    return out, complete and found


def _is_shape_equation(text: str) -> bool:
    """True for text such as ``(N,in) = (N,out)(out,in)`` or ``(*x) = sum((*y))``."""
    n = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal n
        if parse_shape(m.group(1)) is None:
            return m.group(0)
        n += 1
        return " "

    rest = _SHAPE_WORDS.sub(" ", _GROUP.sub(repl, text))
    return n > 0 and _SHAPE_LEFTOVER.fullmatch(rest) is not None


# ---------------------------------------------------------------------------------------
# rules: the lines of a backward docstring
# ---------------------------------------------------------------------------------------

_RULE_LINE = re.compile(r"(?P<lhs>[^\s=\[]+(?:\[[^\]]*\])?)\s*\+?=(?!=)")
_SEPARATOR = re.compile(r"\s{2,}")


@dataclass(frozen=True)
class _RuleSpec:
    grad: str  # the rule's left-hand side, e.g. "dX"
    text: str  # "dX = dY @ W"
    shapes: str  # "(N,in) = (N,out)(out,in)", or "" when the line has none
    comment: str  # what follows the shape equation, e.g. "(0 at x = 0, as PyTorch)"
    operand: str | None  # the forward parameter the rule is for, e.g. "X"


def split_rule(line: str) -> tuple[str, str, str]:
    """Split ``rule  shape-equation  (comment)`` at separators of two or more spaces.

    The shape equation is the last run of separated segments made only of shapes, ``=``
    and a few words (``sum``); what follows it is a comment, what precedes it the rule.
    A line without a shape equation is returned as ``(line, "", "")``.
    """
    line = line.strip()
    seps = list(_SEPARATOR.finditer(line))
    starts = [0] + [m.end() for m in seps]
    ends = [m.start() for m in seps] + [len(line)]
    is_eq = [k > 0 and _is_shape_equation(line[starts[k] : ends[k]]) for k in range(len(starts))]
    if not any(is_eq):
        return line, "", ""
    last = max(k for k, ok in enumerate(is_eq) if ok)
    first = last
    while first > 1 and is_eq[first - 1]:
        first -= 1
    rule = line[: ends[first - 1]]
    shapes = line[starts[first] : ends[last]]
    comment = line[starts[last + 1] :] if last + 1 < len(starts) else ""
    return rule, shapes, comment


def _operand_of(lhs: str, names: list[str]) -> str | None:
    """Which forward parameter a rule's left-hand side is the gradient of.

    ``dX`` -> X, ``grad_x`` -> x, ``d(input)`` -> input, ``dA_k`` -> A (a component).
    """
    for prefix in ("d", "grad_", "∇", "∇_", "dL/d", "∂L/∂"):
        if lhs.startswith(prefix):
            rest = lhs[len(prefix) :].strip("()")
            if rest in names:
                return rest
            head = rest.split("_")[0].split("[")[0]
            if head in names:
                return head
    lowered = {n.lower(): n for n in names}
    for prefix in ("d", "grad_"):
        rest = lhs[len(prefix) :].strip("()").lower() if lhs.startswith(prefix) else None
        if rest and rest in lowered and sum(n.lower() == rest for n in names) == 1:
            return lowered[rest]
    return None


def parse_rules(doc: str | None, names: list[str]) -> list[_RuleSpec]:
    """The rule lines of a backward docstring (lines ``lhs = rhs``; other text is prose)."""
    if not doc:
        return []
    specs = []
    for raw in inspect.cleandoc(doc).splitlines():
        line = raw.strip()
        m = _RULE_LINE.match(line)
        if not m:
            continue
        lhs = m.group("lhs")
        specs.append(_RuleSpec(lhs, *split_rule(line), _operand_of(lhs, names)))
    return specs


@dataclass(frozen=True)
class _OpInfo:
    names: tuple[str, ...]  # forward positional parameter names
    variadic: str | None  # name of a *args parameter, if any
    rules: tuple[_RuleSpec, ...]
    shapes: dict[str, list[Token]]  # parsed ``shapes`` attribute
    symbolic: dict[str, str]  # the ``shapes`` attribute as written
    folds_batch: bool = False  # the op folds extra leading dimensions into its first symbol


_INFO: dict[type, _OpInfo] = {}


def _signature_names(fn: Any, skip: int) -> tuple[tuple[str, ...], str | None]:
    try:
        params = list(inspect.signature(fn).parameters.values())[skip:]
    except (TypeError, ValueError):
        return (), None
    names = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return tuple(names), p.name
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return tuple(names), None


def _op_info(node: Node) -> _OpInfo:
    """What explain needs from a node's class, read once per class and cached."""
    cls = type(node)
    info = _INFO.get(cls)
    if info is not None:
        return info
    if isinstance(node, FunctionNode):
        owner: Any = cls._fn_cls
        names, variadic = _signature_names(owner.forward, 1)  # (ctx, *inputs)
        doc = owner.backward.__doc__
    elif isinstance(node, Op):
        owner = cls
        names, variadic = _signature_names(cls.forward, 1)  # (self, *inputs)
        doc = inspect.getdoc(cls.backward)
    else:
        owner, names, variadic, doc = cls, (), None, None
    symbolic = dict(getattr(owner, "shapes", None) or {})
    parsed = {}
    for key, text in symbolic.items():
        m = _GROUP.fullmatch(str(text).strip())
        tokens = parse_shape(m.group(1)) if m else None
        if tokens is not None:
            parsed[key] = tokens
    all_names = list(names) + ([variadic] if variadic else [])
    info = _OpInfo(names, variadic, tuple(parse_rules(doc, all_names)), parsed, symbolic,
                   bool(getattr(owner, "folds_batch", False)))
    _INFO[cls] = info
    return info


def _operand_names(info: _OpInfo, n: int) -> list[str]:
    names = list(info.names[:n])
    for i in range(len(names), n):
        names.append(f"{info.variadic}[{i - len(info.names)}]" if info.variadic else f"arg{i}")
    return names


# ---------------------------------------------------------------------------------------
# the rows
# ---------------------------------------------------------------------------------------


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


def _backward_order(root: Node) -> list[Node]:
    """The nodes in the order the engine runs them (Kahn's algorithm, newest ready first)."""
    deps: dict[Node, int] = {root: 0}
    stack = [root]
    while stack:
        for edge in stack.pop().next_edges:
            if edge is None:
                continue
            child = edge[0]
            if child in deps:
                deps[child] += 1
            elif isinstance(child, Node):
                deps[child] = 1
                stack.append(child)
    order = []
    ready = [(-root.seq, root)]
    while ready:
        node = heapq.heappop(ready)[1]
        order.append(node)
        for edge in node.next_edges:
            if edge is not None and isinstance(edge[0], Node):
                child = edge[0]
                deps[child] -= 1
                if deps[child] == 0:
                    heapq.heappush(ready, (-child.seq, child))
    return order


def _param_names(params: Any, leaves: Collection[int] | None = None) -> dict[int, str]:
    """{id(tensor): name} from ``params``, or from the last Modules called that own one of
    ``leaves`` (prefixed by module when several would give the same name)."""
    names: dict[int, str] = {}
    if params is None:
        try:
            from chainrule.nn.modules.module import parameter_names
        except ImportError:
            return names
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
    return None if t.grad is None else _norm(t.grad.data)


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


_SUMS = re.compile(r"sum_to\(|unbroadcast\(|\.sum\(|\bsum over\b")


def _sums_back(rules: list[Rule], i: int, n_inputs: int) -> bool:
    """Whether input i's gradient may be a Repeat/Sum: its rule sums (``sum_to``,
    ``.sum(``), or, where the op documents no rule for it, the op is binary."""
    mine = [r.rule for r in rules if r.operand == i]
    if not mine:
        return n_inputs >= 2
    return any(_SUMS.search(text) and "dY[" not in text for text in mine)


def _bind(
    info: _OpInfo,
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


class _Builder:
    """Builds the rows for one root tensor."""

    def __init__(self, tensor: Tensor, params: Any) -> None:
        self.tensor = tensor
        self._local: dict[Any, Any] = {}  # (class, shapes, needs) -> what _bind returns
        root = tensor.grad_fn
        self.order = _backward_order(root) if root is not None else []
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
        info = _op_info(node)
        shapes_in = tuple(tuple(s) for s in node.input_shapes)
        shapes_out = tuple(tuple(s) for s in node.out_shapes)
        names = _operand_names(info, len(shapes_in))
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


# ---------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------

_HEAD = ("#", "op", "inputs", "output", "|dY|", "backward rules (with shapes)")


class Explanation:
    """The backward pass of one tensor's graph, step by step (see :func:`explain`).

    ``rows`` holds the data (a list of :class:`Row`); ``str()`` is an aligned text table,
    ``_repr_html_`` an HTML table (Jupyter shows it).
    """

    def __init__(self, tensor: Tensor, rows: list[Row]) -> None:
        self.rows = rows
        self.shape = tuple(tensor.shape)
        self.grad_fn = tensor.grad_fn.name() if tensor.grad_fn is not None else None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Row:
        return self.rows[i]

    @property
    def has_norms(self) -> bool:
        """Whether any gradient norm is known (after a backward that recorded them)."""
        return any(v is not None for r in self.rows for v in r.grad_norms)

    def _title(self) -> str:
        what = f"tensor of shape {format_shape(self.shape)}"
        if self.grad_fn is not None:
            what += f", grad_fn=<{self.grad_fn}>"
        if not self.rows:
            return f"{what}: does not require grad, so there is no backward pass"
        n = len(self.rows)
        steps = "1 step" if n == 1 else f"{n} steps"
        return f"backward pass of {what}: {steps}, in the order backward visits them"

    def _footer(self) -> str:
        if not self.rows or self.has_norms:
            return ""
        return ("|dY|: norm of the gradient reaching each output, shown after .backward() "
                "(when chainrule.autograd.engine.record_grad_norms is True)")

    def _cells(self, row: Row) -> list[list[str]]:
        rules = [str(r) for r in row.rules if r.needed] or [str(r) for r in row.rules]
        return [
            [str(row.step)],
            [row.op],
            [str(o) for o in row.inputs],
            [format_shape(s) for s in row.output_shapes],
            [_norm_text(v) for v in row.grad_norms],
            rules + row.notes,
        ]

    def __str__(self) -> str:
        lines = [self._title()]
        if self.rows:
            table = [[[h] for h in _HEAD]] + [self._cells(r) for r in self.rows]
            widths = [max(len(line) for row in table for line in row[c]) for c in range(6)]
            for k, row in enumerate(table):
                height = max(len(cell) for cell in row)
                for h in range(height):
                    parts = []
                    for c, cell in enumerate(row):
                        text = cell[h] if h < len(cell) else ""
                        parts.append(text.rjust(widths[c]) if c in (0, 4) else
                                     text.ljust(widths[c]))
                    lines.append("  ".join(parts).rstrip())
                if k == 0:
                    lines.append("  ".join("-" * w for w in widths))
        footer = self._footer()
        if footer:
            lines.append(footer)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        out = ['<table class="chainrule-explain">',
               f"<caption>{esc(self._title())}</caption>"]
        if self.rows:
            out.append("<thead><tr>" + "".join(
                f'<th style="text-align:left">{esc(h)}</th>' for h in _HEAD) +
                "</tr></thead><tbody>")
            for row in self.rows:
                cells = self._cells(row)
                tds = []
                for c, cell in enumerate(cells):
                    body = "<br>".join(esc(x) for x in cell)
                    if c == 5:  # rules: monospace, their double spaces kept
                        body = "<br>".join(f'<code style="white-space:pre">{esc(x)}</code>'
                                           for x in cell)
                    align = "right" if c in (0, 4) else "left"
                    tds.append(f'<td style="text-align:{align};vertical-align:top">{body}</td>')
                out.append(f'<tr class="{row.kind}">' + "".join(tds) + "</tr>")
            out.append("</tbody>")
        footer = self._footer()
        if footer:
            out.append(f'<tfoot><tr><td colspan="6">{esc(footer)}</td></tr></tfoot>')
        out.append("</table>")
        return "\n".join(out)


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
    builder = _Builder(tensor, params)
    return Explanation(tensor, builder.rows())
