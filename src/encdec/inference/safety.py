"""The tokenizer at the inference boundary: a tokenizer from a file may fail on an input in ways
no `except Exception` sees (the tokenizers library's Rust panics arrive as `PanicException`, a
`BaseException`). Such a failure costs the one line or request that caused it, never the rest."""

from __future__ import annotations

#: What is never swallowed: the user's Ctrl-C, sys.exit, a closing generator.
_NEVER_CAUGHT = (KeyboardInterrupt, SystemExit, GeneratorExit)


def tokenizer_failure(err: BaseException) -> str:
    """Why the tokenizer failed, as a warning's words; re-raises what must never be caught."""
    if isinstance(err, _NEVER_CAUGHT):
        raise err
    detail = str(err).splitlines()[0][:160] if str(err) else ""
    name = type(err).__name__
    return f"the model's tokenizer failed on it ({name}{': ' + detail if detail else ''})"
