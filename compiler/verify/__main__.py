"""``python -m compiler.verify FILE...``: the same as ``compile verify FILE...``."""

import sys

from compiler.cli import main

sys.exit(main(["verify", *sys.argv[1:]]))
