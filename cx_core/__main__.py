"""``python -m cx_core``: see :mod:`cx_core.cli`."""

import sys

from .cli import main

sys.exit(main())
