"""The package version (one place: the wheel metadata and every report read it)."""

__version__ = "0.2.0"
