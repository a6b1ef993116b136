"""The README's example runs and does what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_example_trains():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 14
    for step in ("nn.Linear", "loss.backward()", "optimizer.step()"):
        assert step in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    final = float(re.fullmatch(r"loss (\S+)\n", out.getvalue()).group(1))
    assert final < 0.05  # the comment says about 0.02 after 100 steps, from about 1.1


def test_readme_lists_the_command_line_and_the_layout():
    text = README.read_text(encoding="utf-8")
    for command in ("chainrule train", "chainrule eval", "chainrule gradcheck",
                    "chainrule graph", "chainrule bench", "make run", "make test"):
        assert command in text
    src = README.parent / "src" / "chainrule"
    for path in ("tensor.py", "autograd/", "ops/", "nn/", "optim/", "utils/data/", "datasets/",
                 "serialization.py", "explain/", "viz.py", "cli/"):
        assert path in text
        assert (src / path.rstrip("/")).exists(), path
    assert "## Benchmarks" in text and "bench/README.md" in text
