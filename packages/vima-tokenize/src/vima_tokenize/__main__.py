"""`python -m vima_tokenize` runs the vima-tokenize command."""

import sys

from vima_tokenize.cli import main

sys.exit(main())
