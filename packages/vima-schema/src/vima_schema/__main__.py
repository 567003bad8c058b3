"""`python -m vima_schema` runs the vima-schema command."""

import sys

from vima_schema.cli import main

sys.exit(main())
