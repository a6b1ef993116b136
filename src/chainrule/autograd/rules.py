"""The backward-rule grammar: how an op writes its rule once, and the one parser of it.

Every ``Op`` states its local gradient rule in two places that sit next to the code:

1. The ``backward`` docstring: one line per input gradient, ::

       dX = <expression>  <shape equation>  [<comment>]

   * the left-hand side names the gradient of a forward parameter: ``dX`` (parameter
     ``X``), ``d(input)``, ``grad_x``, or a part of one (``dA_k``: a component of ``A``);
   * two or more spaces separate the expression from the shape equation and the shape
     equation from an optional comment (``(0 at x = 0, as PyTorch)``);
   * the shape equation is made of symbolic shapes in parentheses and ``=``, with
     juxtaposition for the operands of the expression:
     ``(N,in) = (N,out)(out,in)``; a few words may appear (``(*x) = sum((*y))``).
     A shape is a comma-separated list of integers (``1``), symbols (``N``, ``in``),
     products of symbols (``N*C``) and at most one star (``*`` or ``*a``: any number of
     dimensions); ``(out,)`` is one dimension and ``()`` a scalar;
   * other docstring lines (prose) are ignored, and lines with ``==`` are not rules.

   Sums over broadcast dimensions are written ``unbroadcast(expr, x.shape)``, as the code
   calls :func:`chainrule.ops._broadcast.unbroadcast`.

2. The class attribute ``shapes``: the symbolic shape of each operand, inputs by their
   forward parameter names and the output as ``Y`` (``Y0``, ``Y1``... for several):
   ``shapes = {"X": "(N,in)", "W": "(out,in)", "Y": "(N,out)"}``. ``cr.explain`` unifies
   it with a node's real shapes to print the rules with numbers in place of symbols.

This module is the only reader of that grammar: :func:`parse_rules` and :func:`op_rules`
for ``cr.explain`` and the docs, :func:`check_rules` for the tests (every ``Op`` in the
library must pass it) and ``chainrule gradcheck`` (which lists each op's rules).
"""

from __future__ import annotations

import ast
import inspect
import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainrule.autograd.function import FunctionNode, Op

__all__ = [
    "RuleSpec", "OpRules", "parse_shape", "parse_rules", "split_rule", "unify",
    "substitute_equation", "format_shape", "op_rules", "check_rules", "parse_symbolic",
    "operand_names",
]

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
class RuleSpec:
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


def parse_rules(doc: str | None, names: list[str]) -> list[RuleSpec]:
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
        specs.append(RuleSpec(lhs, *split_rule(line), _operand_of(lhs, names)))
    return specs


@dataclass(frozen=True)
class OpRules:
    names: tuple[str, ...]  # forward positional parameter names
    variadic: str | None  # name of a *args parameter, if any
    rules: tuple[RuleSpec, ...]
    shapes: dict[str, list[Token]]  # parsed ``shapes`` attribute
    symbolic: dict[str, str]  # the ``shapes`` attribute as written
    folds_batch: bool = False  # the op folds extra leading dimensions into its first symbol


_RULES: dict[type, OpRules] = {}


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


def op_rules(cls: type) -> OpRules:
    """The parsed rules of a node class (an ``Op`` or a ``Function``'s node), cached."""
    info = _RULES.get(cls)
    if info is not None:
        return info
    if issubclass(cls, FunctionNode):
        owner: Any = cls._fn_cls
        names, variadic = _signature_names(owner.forward, 1)  # (ctx, *inputs)
        doc = owner.backward.__doc__
    elif issubclass(cls, Op):
        owner = cls
        names, variadic = _signature_names(cls.forward, 1)  # (self, *inputs)
        doc = inspect.getdoc(cls.backward)
    else:
        owner, names, variadic, doc = cls, (), None, None
    symbolic = dict(getattr(owner, "shapes", None) or {})
    parsed = {}
    for key, text in symbolic.items():
        tokens = parse_symbolic(text)
        if tokens is not None:
            parsed[key] = tokens
    all_names = list(names) + ([variadic] if variadic else [])
    info = OpRules(names, variadic, tuple(parse_rules(doc, all_names)), parsed, symbolic,
                   bool(getattr(owner, "folds_batch", False)))
    _RULES[cls] = info
    return info


def parse_symbolic(text: Any) -> list[Token] | None:
    """Tokens of a shape written with its parentheses (``"(N,in)"``), or None."""
    m = _GROUP.fullmatch(str(text).strip())
    return parse_shape(m.group(1)) if m else None


def check_rules(cls: type) -> list[str]:
    """What is wrong with an op class's rule (an empty list when it is well formed).

    The backward docstring must hold at least one rule line, each with a shape equation
    and naming the gradient of a forward parameter; ``shapes`` must give a parseable
    symbolic shape for the output ``Y`` and for parameters only.
    """
    info = op_rules(cls)
    name = cls.__name__
    problems = []
    if not info.rules:
        problems.append(f"{name}.backward: no rule line (``dX = expr  (shape) = (shape)``)")
    params = set(info.names) | ({info.variadic} if info.variadic else set())
    for spec in info.rules:
        if not spec.shapes:
            problems.append(f"{name}: rule {spec.text!r} has no shape equation (two spaces, "
                            "then e.g. ``(N,in) = (N,out)(out,in)``)")
        if spec.operand is None:
            problems.append(f"{name}: rule {spec.text!r}: {spec.grad!r} names no forward "
                            f"parameter (expected d<name> for one of {sorted(params)})")
    if not info.symbolic:
        problems.append(f"{name}.shapes is missing (e.g. {{'X': '(N,in)', 'Y': '(N,out)'}})")
    for key, text in info.symbolic.items():
        if key not in info.shapes:
            problems.append(f"{name}.shapes[{key!r}] = {text!r} is not a symbolic shape")
        if key not in params and not re.fullmatch(r"Y\d*", key):
            problems.append(f"{name}.shapes has {key!r}, which is neither a forward parameter "
                            f"({sorted(params)}) nor the output Y")
    return problems


def operand_names(info: OpRules, n: int) -> list[str]:
    names = list(info.names[:n])
    for i in range(len(names), n):
        names.append(f"{info.variadic}[{i - len(info.names)}]" if info.variadic else f"arg{i}")
    return names
