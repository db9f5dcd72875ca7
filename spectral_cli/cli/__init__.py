"""The ``spectral`` command line (Typer). No tensor math here.

Importing the CLI makes SIGTERM behave like Ctrl-C from the first moment (exit 130, one line),
before the heavy imports: the entry point imports this package first.
"""

from spectral_cli.core.signals import install_early_handlers

install_early_handlers()
