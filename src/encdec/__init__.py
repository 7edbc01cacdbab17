"""encdec: RNN encoder-decoder models with attention, trained with Lightning and configured with Hydra."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(path: str, map_location: str = "cpu") -> Any:
    """Load a model exported with `python -m encdec.export`; returns an `encdec.translator.Translator`.

    Only this project's own classes are built from the file (see `encdec.build`). Imported
    lazily, so `import encdec` stays cheap.
    """
    from encdec.build import load_model_file  # noqa: PLC0415 (keeps `import encdec` light)
    from encdec.translator import Translator  # noqa: PLC0415

    return Translator(load_model_file(path, map_location=map_location).task)
