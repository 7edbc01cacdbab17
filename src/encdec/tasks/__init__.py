"""LightningModules: training, evaluation and metrics around the plain models."""

from encdec.tasks.seq2seq import Seq2SeqTask

__all__ = ["Seq2SeqTask"]
