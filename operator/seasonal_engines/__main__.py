import sys

from seasonal_engines.cli.main import main

sys.exit(main())
