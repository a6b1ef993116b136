"""``python -m chainrule``: the same command line as the ``chainrule`` console script."""

import sys

from chainrule.cli.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
