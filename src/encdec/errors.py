"""The mistakes a user can make, each a class the entry points print as one line (no traceback).

Every message names the option, file or line at fault and how to fix it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An option with a value that cannot work; the message says which and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint or model file that cannot be used here (not encdec's, unreadable, another
    config or tokenizer, or one that names code this project does not build)."""


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the line and the fix."""
