"""`python -m sim`: the same as `satedge sim`."""

import sys

from satedge.cli import main

sys.exit(main(["sim", *sys.argv[1:]]))
