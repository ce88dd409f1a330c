"""``spark-submit …/fraudml/cli/submit.py <command> [overrides…]``: the fraudml program as
a script a Spark cluster can run (docs/scale.md); the same commands as ``fraudml``."""

from __future__ import annotations

import sys

from fraudml.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
