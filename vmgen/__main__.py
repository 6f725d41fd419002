"""`python -m vmgen` is the `vmgen` command."""

from vmgen.cli import run

run()
