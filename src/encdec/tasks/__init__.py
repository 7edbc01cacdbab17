"""LightningModules: training, evaluation and metrics around the plain models."""

from encdec.tasks.qa import QATask
from encdec.tasks.seq2seq import Seq2SeqTask

__all__ = ["QATask", "Seq2SeqTask"]
