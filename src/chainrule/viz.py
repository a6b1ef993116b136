"""``cr.viz``: pictures of the backward graph, as Graphviz DOT source, SVG or PNG.

``make_dot(tensor)`` returns the DOT text of the graph that produced ``tensor``: one box
per op (numbered as in :func:`chainrule.explain`), one ellipse per leaf (named after the
module parameter it is), Branch points where a tensor feeds several ops, edges labelled
with the shape of the tensor that flows and, after a ``backward()``, the norm of its
gradient. ``render(tensor, path)`` writes the ``.dot`` file and, where Graphviz's ``dot``
program is installed, the ``.svg`` or ``.png`` picture.

Example::

    >>> loss = F.cross_entropy(model(x), y)
    >>> loss.backward()
    >>> cr.viz.render(loss, "runs/graph.svg")  # writes runs/graph.dot and runs/graph.svg
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

from chainrule.explain import Explanation, Row, explain, format_shape
from chainrule.tensor import Tensor

__all__ = ["make_dot", "render", "GraphvizNotFoundError", "GraphvizNotInstalledWarning", "FORMATS"]

#: the formats ``render`` writes; all but ``dot`` need Graphviz's ``dot`` program
FORMATS = ("dot", "svg", "png", "pdf")

_INSTALL_HINT = (
    "Install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; Fedora: `sudo dnf "
    "install graphviz`; macOS: `brew install graphviz`; conda: `conda install -c "
    "conda-forge graphviz`), or open the .dot file with any Graphviz viewer"
)


class GraphvizNotFoundError(RuntimeError):
    """Raised when a picture format is asked for but Graphviz's ``dot`` is not installed."""


def _quote(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` in ``text`` becomes a line break."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


def _attrs(**attrs: str) -> str:
    return "[" + ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items()) + "]"


def _norm(v: float | None) -> str:
    return "" if v is None else f"|grad| {v:.4g}"


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def make_dot(tensor: Tensor, params: Any = None) -> str:
    """The backward graph of ``tensor`` as Graphviz DOT source.

    Args:
        tensor: the output whose graph to draw (e.g. the loss).
        params: names for leaf tensors: a dict ``name -> tensor`` (e.g.
            ``dict(model.named_parameters())``) or a Module; by default the parameters of
            the last Module called are named, other leaves are ``x0, x1, ...``.

    Returns:
        DOT source: ops are boxes labelled ``#step Op`` (the step numbers of
        :func:`chainrule.explain`), leaves ellipses with name, shape and ``|grad|``,
        inputs that need no gradient grey, Branch points diamonds. Edges go in the forward
        direction, labelled with the tensor's shape and, after a backward, the norm of the
        gradient that flowed back along them.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"make_dot: expected a Tensor, got {type(tensor).__name__}")
    return _dot(explain(tensor, params), tensor)


def _dot(ex: Explanation, tensor: Tensor) -> str:
    rows = {r.step: r for r in ex.rows}
    out = [
        "digraph chainrule {",
        '  graph [rankdir="TB", fontname="Helvetica", fontsize="10", nodesep="0.3"];',
        '  node [fontname="Helvetica", fontsize="10"];',
        '  edge [fontname="Helvetica", fontsize="9", color="#555555"];',
    ]
    for r in ex.rows:
        out.append(f"  s{r.step} {_node_attrs(r)};")
    n_const = 0
    for r in ex.rows:
        if r.kind == "leaf":
            continue
        for op in r.inputs:
            if op.source is None:  # an input that needs no gradient (data, a constant)
                n_const += 1
                label = _lines(op.name, format_shape(op.shape))
                out.append(f"  c{n_const} " + _attrs(label=label, shape="box", style="dashed",
                                                      color="#999999", fontcolor="#777777") + ";")
                out.append(f'  c{n_const} -> s{r.step} [style="dashed", color="#999999"];')
                continue
            src = rows[op.step]
            out.append(f"  s{op.step} -> s{r.step} " + _attrs(label=_edge_label(src, r, op)) + ";")
    # the tensor itself, fed by the node that made it
    root_label = _lines("output", format_shape(tuple(tensor.shape)))
    out.append("  out " + _attrs(label=root_label, shape="ellipse", style="filled",
                                 fillcolor="#fff3bf") + ";")
    root = _root_row(ex, tensor)
    if root is not None:
        nr = tensor._output_nr if root.kind == "op" else 0
        norm = root.grad_norms[nr] if nr < len(root.grad_norms) else None
        out.append(f"  s{root.step} -> out " + _attrs(label=_norm(norm)) + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def _node_attrs(r: Row) -> str:
    if r.kind == "leaf":
        label = _lines(r.name, format_shape(r.output_shapes[0]), _norm(r.grad_norms[0]))
        return _attrs(label=label, shape="ellipse", style="filled", fillcolor="#d0e4ff")
    if r.kind == "branch":
        return _attrs(label=f"#{r.step} Branch", shape="diamond", style="filled",
                      fillcolor="#eeeeee", fontsize="8")
    rules = "\n".join(str(rule) for rule in r.rules if rule.needed) or r.name
    return _attrs(label=f"#{r.step} {r.op}", shape="box", style="rounded,filled",
                  fillcolor="#f4f4f4", tooltip=rules)


def _edge_label(src: Row, dst: Row, op: Any) -> str:
    """Shape of the tensor on the edge; the norm of its gradient when one edge carries it."""
    shape = format_shape(op.shape)
    if src.kind == "branch":  # one of several partial gradients: no norm of its own
        return shape
    if src.kind == "leaf":  # the leaf's node shows its |grad|
        return shape
    norm = src.grad_norms[op.output] if op.output < len(src.grad_norms) else None
    return _lines(shape, _norm(norm))


def _root_row(ex: Explanation, tensor: Tensor) -> Row | None:
    fn = tensor.grad_fn
    for r in ex.rows:
        if fn is not None and r.node is fn:
            return r
        if fn is None and r.kind == "leaf":
            return r
    return None


class GraphvizNotInstalledWarning(UserWarning):
    """:func:`render` wrote only the ``.dot`` file: Graphviz is not installed."""


def render(
    tensor: Tensor, path: str | os.PathLike[str], params: Any = None, format: str | None = None
) -> list[Path]:
    """Write the graph of ``tensor`` to ``path``: always a ``.dot`` file, and a picture.

    Args:
        tensor: the output whose graph to draw.
        path: the file to write; its suffix (``.svg``, ``.png``, ``.pdf``, ``.dot``) picks
            the format unless ``format`` is given. The ``.dot`` source goes beside it.
        params: leaf names, as for :func:`make_dot`.
        format: ``"svg"``, ``"png"``, ``"pdf"`` or ``"dot"``. With neither a format nor a
            known suffix, an SVG is written when Graphviz is installed, else only the
            ``.dot`` file.

    Returns:
        The paths written, the ``.dot`` file first.

    Warns:
        GraphvizNotInstalledWarning: no format was asked for and Graphviz is not
            installed: only the ``.dot`` file is written; the warning says how to install it.

    Raises:
        GraphvizNotFoundError: a picture format was asked for and Graphviz's ``dot``
            program is not installed (the ``.dot`` file is written all the same).
        ValueError: an unknown format.
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if format is not None:
        format = format.lower().lstrip(".")
        if format not in FORMATS:
            raise ValueError(
                f"render: format must be one of {', '.join(FORMATS)}, got {format!r}"
            )
    elif suffix in FORMATS:
        format = suffix
    base = path.with_suffix("") if suffix in FORMATS else path
    base.parent.mkdir(parents=True, exist_ok=True)
    dot_path = base.with_name(base.name + ".dot")
    dot_path.write_text(make_dot(tensor, params), encoding="utf-8")
    if format == "dot":
        return [dot_path]
    exe = shutil.which("dot")
    if exe is None:
        if format is None:
            warnings.warn(
                f"render: Graphviz's `dot` program is not installed, so only the DOT source "
                f"{dot_path} was written, no picture. {_INSTALL_HINT}.",
                GraphvizNotInstalledWarning,
                stacklevel=2,
            )
            return [dot_path]
        raise GraphvizNotFoundError(
            f"render: writing a {format.upper()} picture ({base.name}.{format}) needs "
            f"Graphviz's `dot` program, which is not installed (not found on PATH). The "
            f"graph's DOT source was written to {dot_path}. {_INSTALL_HINT}."
        )
    fmt = format or "svg"
    picture = base.with_name(f"{base.name}.{fmt}")
    try:
        done = subprocess.run(
            [exe, f"-T{fmt}", "-o", str(picture), str(dot_path)],
            capture_output=True, text=True, timeout=300, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"render: running Graphviz's dot on {dot_path} failed: {e}") from e
    if done.returncode != 0:
        raise RuntimeError(
            f"render: Graphviz's dot could not draw {dot_path} as {fmt} (exit code "
            f"{done.returncode}): {done.stderr.strip()}"
        )
    return [dot_path, picture]
