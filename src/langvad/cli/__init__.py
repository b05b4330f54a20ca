"""The command line: ``langvad`` (``main``) and one module per command; ``fail`` is the
shared error exit every command uses."""

from langvad.cli.main import app

__all__ = ["app"]
