"""encdec: RNN encoder-decoder models with attention, trained with Lightning and configured with Hydra."""

__version__ = "0.1.0"
