"""`python -m vima_convert` runs the vima-convert command."""

import sys

from vima_convert.cli import main

sys.exit(main())
