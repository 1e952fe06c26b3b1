"""``python -m rnnbook``: see :mod:`rnnbook.cli`."""

import sys

from rnnbook.cli import main

if __name__ == "__main__":  # worker processes (rnnbook.synthetic.workers) import this module: do nothing then
    sys.exit(main())
