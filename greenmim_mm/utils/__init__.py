"""Checkpoint conversion (``tools/convert_checkpoint.py``)."""
from . import convert  # noqa: F401
