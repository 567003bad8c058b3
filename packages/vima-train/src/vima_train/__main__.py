"""`python -m vima_train` = `vima-train`."""

import sys

from vima_train.cli import main

sys.exit(main())
