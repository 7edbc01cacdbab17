"""The mistakes a user can make, each a class the entry points print as one line (no traceback).

Every message names the option, file or line at fault and how to fix it. All of them derive from
`EncdecError`: the entry points (`encdec.cli.common.run_friendly`) and the assembly
(`encdec.build._instantiate`) recognise this project's own messages by that base class alone,
never by a standard class (a `JSONDecodeError` is a ValueError too, but not a message of ours).
Each subclass also keeps the standard class it always was (ValueError, OSError, RuntimeError), so
code that caught that still does.
"""

from __future__ import annotations


class EncdecError(Exception):
    """Any user-facing error of encdec: its message is the whole story (printed as one line)."""


class ConfigError(EncdecError, ValueError):
    """An option with a value that cannot work; the message says which and how to fix it."""


class CheckpointError(EncdecError, ValueError):
    """A checkpoint or model file that cannot be used here (not encdec's, unreadable, another
    config or tokenizer, or one that names code, places or sizes this project does not accept)."""


class DataError(EncdecError, ValueError):
    """Input data that cannot be used; the message names the file, the line and the fix."""


class EmbeddingFileError(EncdecError, ValueError):
    """A pretrained vectors file that cannot be used; the message names the option and the fix."""


class CheckpointWriteError(EncdecError, OSError):
    """A checkpoint could not be written (full disk, ...); the previous one is intact.

    The message names the folder and the checkpoint to resume from.
    """


class TrainingDiverged(EncdecError, RuntimeError):
    """The loss became NaN/inf: the message names the step, the checkpoint kept and the fix."""


class RunFolderInUse(ConfigError):
    """Another live process is training in this run folder; the message names it and its pid."""
