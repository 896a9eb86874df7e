"""`python -m onboard [--config FILE] [--check-config]`: the same daemon as `satedge onboard`."""

import sys

from satedge.cli import main

if __name__ == "__main__":
    sys.exit(main(["onboard", *sys.argv[1:]]))
