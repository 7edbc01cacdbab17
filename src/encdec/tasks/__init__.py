"""LightningModules: training, evaluation and metrics around the plain models."""

from encdec.tasks.base import LRSchedule, Task
from encdec.tasks.qa import QATask
from encdec.tasks.seq2seq import LossSettings, Seq2SeqTask

__all__ = ["LRSchedule", "LossSettings", "QATask", "Seq2SeqTask", "Task"]
