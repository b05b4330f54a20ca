"""``python -m langvad.cli``."""

from langvad.cli.main import app

app()
