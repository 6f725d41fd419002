"""`python -m vmgen` is the `vmgen` command."""

import sys

from vmgen.cli import main

sys.exit(main())
