"""encdec: RNN encoder-decoder models with attention, trained with Lightning and configured with Hydra."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(path: str, map_location: str = "cpu") -> Any:
    """Load a model exported with `python -m encdec.export`; returns an `encdec.translator.Translator`.

    Imported lazily, so `import encdec` stays cheap.
    """
    from encdec.export import load as _load

    return _load(path, map_location=map_location)
