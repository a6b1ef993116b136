"""``chainrule bench``: hands over to the benchmark runner in the repository's ``bench/``.

The benchmarks are not part of the installed package: they live in a source checkout,
next to ``src/``. This looks for ``bench/run.py`` in the current directory and in the
checkout this package was installed from (``pip install -e .``), imports it as
``bench.run`` and calls its ``main(argv)`` with the arguments after ``bench``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from chainrule.cli.common import CLIError

__all__ = ["find_repository", "main"]


def _candidates() -> list[Path]:
    """Folders that may hold ``bench/run.py``: the working directory, then the checkout."""
    return [Path.cwd(), Path(__file__).resolve().parents[3]]  # src/chainrule/cli/bench.py


def find_repository() -> Path | None:
    """The first candidate folder with a ``bench/run.py``, or None."""
    for folder in _candidates():
        if (folder / "bench" / "run.py").is_file():
            return folder
    return None


def main(argv: Sequence[str]) -> int:
    """Run ``bench.run.main(argv)``; returns its exit code."""
    root = find_repository()
    if root is None:
        raise CLIError(
            "the benchmarks live in the chainrule repository's bench/ folder, which was "
            "not found in the current directory nor next to this installation; run "
            "`chainrule bench` (or `make bench`) from a source checkout"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module("bench.run")
    code = module.main(list(argv))
    return 0 if code is None else int(code)
