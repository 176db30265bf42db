"""Command line: a thin layer over the library. `python -m qa --help`."""

from qa.cli import archive, tools  # noqa: F401 - each registers its commands on `main`
from qa.cli.common import main

__all__ = ["main"]
