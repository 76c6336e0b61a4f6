"""``python -m compiler.verify FILE...``: the same as ``compile verify FILE...``."""

import sys

from compiler.verify import main

sys.exit(main())
