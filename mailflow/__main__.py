"""`python -m mailflow` is the `mailflow` command."""

import sys

from mailflow.cli.main import main

sys.exit(main())
