"""`python -m vima_eval` runs the vima-eval command."""

import sys

from vima_eval.cli import main

sys.exit(main())
