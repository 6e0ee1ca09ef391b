"""``python -m cx_core``: see :mod:`cx_core.cli.main`."""

import sys

from cx_core.cli.main import main

sys.exit(main())
