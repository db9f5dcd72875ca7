"""``python -m spectral_cli``."""

from spectral_cli.cli.main import app

app()
