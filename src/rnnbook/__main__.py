"""``python -m rnnbook``: see :mod:`rnnbook.cli`."""

import sys

from rnnbook.cli import main

sys.exit(main())
