"""`python -m vima_sim` runs the vima-sim command."""

import sys

from vima_sim.cli import main

sys.exit(main())
