"""cr.viz: DOT source of the backward graph, and rendering it with Graphviz."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz
from chainrule.explain import explain, format_shape
from chainrule.ops.linalg import linear

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")

_ID = r"[A-Za-z_]\w*"
_STRING = r'"(?:[^"\\]|\\.)*"'
_ATTRS = rf"\[\s*(?:{_ID}={_STRING}(?:,\s*{_ID}={_STRING})*)?\s*\]"
_NODE = re.compile(rf"^  ({_ID}) ({_ATTRS});$")
_EDGE = re.compile(rf"^  ({_ID}) -> ({_ID})(?: ({_ATTRS}))?;$")
_DEFAULTS = re.compile(rf"^  (?:graph|node|edge) {_ATTRS};$")


def parse_dot(src: str) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """A strict reader for the subset of DOT that make_dot writes: nodes and edges."""
    lines = src.rstrip("\n").split("\n")
    assert lines[0] == "digraph chainrule {" and lines[-1] == "}"
    nodes: dict[str, dict[str, str]] = {}
    edges = []
    for line in lines[1:-1]:
        if _DEFAULTS.match(line):
            continue
        if m := _EDGE.match(line):
            edges.append((m.group(1), m.group(2), attrs(m.group(3) or "[]")))
        elif m := _NODE.match(line):
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = attrs(m.group(2))
        else:
            raise AssertionError(f"not a DOT statement: {line!r}")
    for a, b, _ in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} names an undeclared node"
    return nodes, edges


def attrs(text: str) -> dict[str, str]:
    pairs = re.findall(rf"({_ID})=({_STRING})", text)
    return {k: re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v[1:-1])
            for k, v in pairs}


def mlp_loss() -> tuple[cr.Tensor, dict[str, cr.Tensor]]:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((8, 5)))
    w = cr.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), requires_grad=True)
    y = linear(x, w, b)
    z = y * y + y  # y fans out: a Branch
    return z, {"fc.weight": w, "fc.bias": b}


def test_make_dot_structure_before_and_after_backward() -> None:
    z, params = mlp_loss()
    nodes, edges = parse_dot(viz.make_dot(z, params=params))
    ex = explain(z, params=params)
    ops = {f"s{r.step}" for r in ex.rows if r.kind == "op"}
    assert ops <= set(nodes)
    for r in ex.rows:
        label = nodes[f"s{r.step}"]["label"]
        if r.kind == "leaf":
            assert label.splitlines()[:2] == [r.name, format_shape(r.output_shapes[0])]
        else:
            assert label == f"#{r.step} {r.op}"
    assert {"fc.weight", "fc.bias"} <= {a["label"].splitlines()[0] for a in nodes.values()}
    assert any(a.get("shape") == "diamond" for a in nodes.values())  # the Branch
    assert nodes["out"]["label"] == "output\n(8,3)"
    # one edge per input of every op/branch row, plus the output
    n_inputs = sum(len(r.inputs) for r in ex.rows if r.kind != "leaf")
    assert len(edges) == n_inputs + 1
    assert not any("|grad|" in a.get("label", "") for a in nodes.values())
    # the x input needs no gradient: a grey dashed box
    consts = [n for n in nodes if n.startswith("c")]
    assert [nodes[c]["label"] for c in consts][0].endswith("(8,5)")

    z.backward(cr.ones(8, 3, dtype=cr.float64))
    nodes, edges = parse_dot(viz.make_dot(z, params=params))
    weight = next(a for a in nodes.values() if a["label"].startswith("fc.weight"))
    grad = np.linalg.norm(params["fc.weight"].grad.numpy())
    assert weight["label"].endswith(f"|grad| {grad:.4g}")
    (to_out,) = [e for e in edges if e[1] == "out"]
    assert to_out[2]["label"] == f"|grad| {np.sqrt(24):.4g}"


def test_make_dot_escapes_labels() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    src = viz.make_dot(w * 2.0, params={'we"ird\\name': w})
    nodes, _ = parse_dot(src)
    assert any(a["label"].startswith('we"ird\\name') for a in nodes.values())


@needs_dot
def test_graphviz_accepts_the_dot_source() -> None:
    z, params = mlp_loss()
    z.backward(cr.ones(8, 3, dtype=cr.float64))
    done = subprocess.run(["dot", "-Tsvg"], input=viz.make_dot(z, params), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout and "fc.weight" in done.stdout


def test_render_dot_only(tmp_path: Path) -> None:
    z, params = mlp_loss()
    paths = viz.render(z, tmp_path / "sub" / "graph.dot", params=params)
    assert paths == [tmp_path / "sub" / "graph.dot"]
    assert paths[0].read_text() == viz.make_dot(z, params)
    paths = viz.render(z, tmp_path / "g2", params=params, format="dot")
    assert paths == [tmp_path / "g2.dot"]


@needs_dot
@pytest.mark.parametrize(("name", "fmt", "magic"), [
    ("graph.svg", None, b"<?xml"), ("graph.png", None, b"\x89PNG"), ("graph", "png", b"\x89PNG"),
    ("graph", None, b"<?xml"),
])
def test_render_pictures(tmp_path: Path, name: str, fmt: str | None, magic: bytes) -> None:
    z, params = mlp_loss()
    paths = viz.render(z, tmp_path / name, params=params, format=fmt)
    assert paths[0] == tmp_path / "graph.dot" and paths[0].exists()
    assert len(paths) == 2 and paths[1].suffix == "." + (fmt or Path(name).suffix[1:] or "svg")
    assert paths[1].read_bytes().startswith(magic)


def test_render_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    z, params = mlp_loss()
    with pytest.raises(viz.GraphvizNotFoundError,
                       match=r"render: writing a SVG picture \(graph.svg\) needs Graphviz's "
                             r"`dot` program.*apt-get install graphviz"):
        viz.render(z, tmp_path / "graph.svg", params=params)
    assert (tmp_path / "graph.dot").exists()  # the source is written all the same
    with pytest.raises(viz.GraphvizNotFoundError, match="PNG"):
        viz.render(z, tmp_path / "graph", format="png")
    # no format asked for: the .dot alone, no error, but a warning saying how to install it
    with pytest.warns(viz.GraphvizNotInstalledWarning, match="apt-get install graphviz"):
        assert viz.render(z, tmp_path / "plain") == [tmp_path / "plain.dot"]


def test_render_rejects_unknown_format(tmp_path: Path) -> None:
    z, _ = mlp_loss()
    with pytest.raises(ValueError, match="render: format must be one of dot, svg, png, pdf, "
                                         "got 'jpg'"):
        viz.render(z, tmp_path / "g", format="jpg")
    with pytest.raises(TypeError, match="make_dot: expected a Tensor"):
        viz.make_dot(np.ones(3))  # type: ignore[arg-type]
