"""``python -m actors``: the same as the ``actors`` command."""

import sys

from ._cli import main

sys.exit(main())
