"""`python -m mailflow` is the `mailflow` command."""

import sys

from .cli import main

sys.exit(main())
