"""The docs are executable: every ```python block of docs/*.md runs, so the docs cannot drift.

Blocks of one file run in order in one namespace, in a temporary working directory. A
```python no-run block is shown but not run; ```console blocks (command lines) are not run.
An ```output block right after a python block is what that block prints: it is compared
with the real output, numbers to a relative 1e-3, ignoring spaces and the length of runs of
dashes (table alignment).

When an output changes on purpose (an op's rule was reworded), rewrite the output blocks
from what the code prints now, then review the diff:

    python tests/test_docs.py --update docs/tutorial.md docs/derivations.md
"""

from __future__ import annotations

import contextlib
import html
import io
import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_FILES = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^```(\S*)(.*)$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


@dataclass
class Block:
    lang: str
    options: str
    code: str
    line: int  # 1-based line of the opening fence
    n_lines: int  # lines between the fences


def extract_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"unclosed code block opened at line {start + 1}")
        code = "\n".join(body) + "\n"
        blocks.append(Block(m.group(1), m.group(2).strip(), code, start + 1, len(body)))
        i += 1
    return blocks


def _normalise(text: str) -> tuple[str, list[str]]:
    """The text with numbers as ``#`` and no spaces (alignment), and the numbers."""
    numbers = _NUMBER.findall(text)
    text = re.sub(r"[ \t]+", "", _NUMBER.sub("#", text.strip()))
    return re.sub(r"-{2,}", "--", text), numbers


def same_output(expected: str, actual: str) -> bool:
    """Equal up to spacing and dash runs, with numbers compared to a relative 1e-3."""
    exp_text, exp_nums = _normalise(expected)
    act_text, act_nums = _normalise(actual)
    if exp_text != act_text or len(exp_nums) != len(act_nums):
        return False
    for e, a in zip(exp_nums, act_nums, strict=True):
        fe, fa = float(e), float(a)
        if math.isnan(fe) and math.isnan(fa):
            continue
        if not math.isclose(fe, fa, rel_tol=1e-3, abs_tol=1e-6):
            return False
    return True


def test_extract_blocks_and_compare_outputs() -> None:
    text = "intro\n```python\nx = 1\n```\n```output\n1\n```\n```python no-run\nboom\n```\n"
    blocks = extract_blocks(text)
    assert [(b.lang, b.options, b.line) for b in blocks] == [
        ("python", "", 2), ("output", "", 5), ("python", "no-run", 8)]
    assert blocks[0].code == "x = 1\n"
    with pytest.raises(ValueError, match="unclosed code block opened at line 1"):
        extract_blocks("```python\nx = 1\n")
    assert same_output("a   1.0000  (64,10)\n--  ----", "a 1.00004 (64,10)\n---- --")
    assert same_output("tensor([ 0.5000, -1.0000])", "tensor([0.5000, -1.0000])")
    assert not same_output("1 2", "12")
    assert not same_output("a 1.0", "a 1.1")
    assert not same_output("a 1.0", "b 1.0")
    assert not same_output("(64,10)", "(64,10,1)")


def test_docs_exist() -> None:
    names = {p.name for p in DOC_FILES}
    assert {"derivations.md", "tutorial.md"} <= names


def run_doc(path: Path, update: bool = False) -> int:
    """Run the python blocks of one Markdown file, checking output blocks; return the count.

    With ``update``, output blocks are instead rewritten with what the code prints.
    """
    text = path.read_text(encoding="utf-8")
    blocks = extract_blocks(text)
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    ran = 0
    last_output: str | None = None
    replacements: list[tuple[Block, str]] = []
    for block in blocks:
        where = f"{path.name}, block at line {block.line}"
        if block.lang == "output":
            assert last_output is not None, f"{where}: an output block must follow a python block"
            if update:
                replacements.append((block, last_output))
            else:
                assert same_output(block.code, last_output), (
                    f"{where}: the documented output differs from the real one.\n"
                    f"--- documented\n{block.code}\n--- real\n{last_output}"
                )
            last_output = None
            continue
        last_output = None
        if block.lang != "python" or "no-run" in block.options.split():
            continue
        buffer = io.StringIO()
        code = compile(block.code, f"{path}:{block.line}", "exec")
        with contextlib.redirect_stdout(buffer):
            try:
                exec(code, namespace)
            except Exception as e:
                raise AssertionError(f"{where} raised {type(e).__name__}: {e}") from e
        last_output = buffer.getvalue()
        ran += 1
    if replacements:
        lines = text.split("\n")
        for block, output in reversed(replacements):  # bottom up: line numbers stay valid
            start = block.line  # the line after the opening fence (0-based)
            end = start + block.n_lines
            lines[start:end] = output.rstrip("\n").split("\n") if output.strip() else []
        path.write_text("\n".join(lines), encoding="utf-8")
    return ran


def test_run_doc_catches_drift(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```python\nprint(2 + 2)\n```\n```output\n4\n```\n"
                   "```python no-run\nraise SystemExit\n```\n```console\n$ false\n```\n")
    assert run_doc(doc) == 1
    doc.write_text("```python\nprint(2 + 2)\n```\n```output\n5\n```\n")
    with pytest.raises(AssertionError, match="block at line 4: the documented output differs"):
        run_doc(doc)
    doc.write_text("text\n\n```python\nx = 1\n```\n```python\nx.missing\n```\n")
    with pytest.raises(AssertionError, match="block at line 6 raised AttributeError"):
        run_doc(doc)
    doc.write_text("```output\n4\n```\n")
    with pytest.raises(AssertionError, match="an output block must follow a python block"):
        run_doc(doc)


def test_update_rewrites_output_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("# t\n```python\nprint('a\\nb')\n```\n```output\nold\n```\n"
                   "```python\nx = 1\n```\n```output\n```\nend\n")
    run_doc(doc, update=True)
    assert doc.read_text() == ("# t\n```python\nprint('a\\nb')\n```\n```output\na\nb\n```\n"
                               "```python\nx = 1\n```\n```output\n```\nend\n")
    assert run_doc(doc) == 2


@pytest.mark.parametrize("path", DOC_FILES, ids=[p.name for p in DOC_FILES])
def test_doc_code_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # files a doc writes (a rendered graph) land here
    assert run_doc(path) > 0, f"{path.name} has no python block to run"
    if path.name == "tutorial.md":
        check_picture(tmp_path / "mlp_graph.dot", DOCS / "images" / "tutorial_mlp_graph.svg")


def check_picture(dot: Path, svg: Path) -> None:
    """The committed SVG shows every label of the graph the doc's code renders now.

    Regenerate it with Graphviz: run the doc's blocks and copy the rendered SVG.
    """
    labels = re.findall(r'label="((?:[^"\\]|\\.)*)"', dot.read_text(encoding="utf-8"))
    lines = {line for label in labels for line in label.split("\\n") if line}
    picture = svg.read_text(encoding="utf-8")
    missing = sorted(line for line in lines if f">{html.escape(line, quote=False)}</text>"
                     not in picture)
    assert not missing, f"{svg.name} is out of date: it lacks the labels {missing}"


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--update":
        sys.exit("usage: python tests/test_docs.py --update DOC.md [DOC.md ...]")
    for name in sys.argv[2:]:
        with tempfile.TemporaryDirectory() as tmp:
            doc, cwd = Path(name).resolve(), os.getcwd()
            os.chdir(tmp)
            try:
                print(f"{name}: {run_doc(doc, update=True)} blocks run, outputs rewritten")
            finally:
                os.chdir(cwd)
