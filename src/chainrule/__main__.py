"""``python -m chainrule``: the command line (``chainrule train xor`` trains the seed project's XOR network)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
