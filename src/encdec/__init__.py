"""encdec: RNN encoder-decoder models with attention, trained with Lightning and configured with Hydra."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from encdec.inference.predictor import Predictor

__version__ = "0.1.0"


def load(path: str, map_location: str = "cpu") -> Predictor:
    """A model file (`python -m encdec.export`) or a train.py checkpoint (`.ckpt`) -> the object
    that fits its task (see docs/training.md#using-a-trained-model-in-python):

    - translation / summarization: `encdec.inference.translator.Translator`:
      `model(["a sentence", ...])` -> one output each (also `.translate` / `.summarize`),
      `model.n_best(texts, n)` -> the n best (text, log_prob) of each;
    - question answering: `encdec.inference.answering.QuestionAnswerer`:
      `model(question, context)` -> Span(text, start, end, score), `model.n_best(q, c, n)`.

    Every kind: `model.encode(texts, pooling=None)` -> one semantic vector per text, a float32
    tensor (N, D) (docs/encoder.md#semantic-vectors).

    Only this project's own classes are built from the file (see `encdec.build`). Imported
    lazily, so `import encdec` stays cheap.
    """
    from encdec.inference.predictor import load as load_predictor  # noqa: PLC0415 (light import)

    return load_predictor(path, map_location=map_location)
