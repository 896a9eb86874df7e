"""`python -m ground ARGS` is `satedge ground ARGS` (what a container runs)."""

import sys

from satedge.cli import main

sys.exit(main(["ground", *sys.argv[1:]]))
