"""``python -m seasonal_build``: see :mod:`seasonal_build.cli`."""

import sys

from seasonal_build.cli import main

sys.exit(main())
