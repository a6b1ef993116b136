"""The ``chainrule`` console script's entry point, outside the ``chainrule`` package.

Importing ``chainrule`` takes a moment (NumPy, every op); a Ctrl-C in that moment would
end with a traceback if the entry point were inside the package, since the package is
imported before any of its code can catch it. Here the import itself is guarded, so that
Ctrl-C at any time ends with the one line ``chainrule: interrupted`` (exit code 130).
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line and run it; returns the exit code."""
    try:
        from chainrule.cli.__main__ import main as run
    except KeyboardInterrupt:
        print("chainrule: interrupted", file=sys.stderr)
        return 130
    try:
        return run()
    except KeyboardInterrupt:  # between the import and run()'s own handler
        print("chainrule: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
