"""LightningModules: training, evaluation and metrics around the plain models."""

from encdec.tasks.base import LRSchedule, Task
from encdec.tasks.qa import QATask
from encdec.tasks.retrieval import RetrievalTask
from encdec.tasks.seq2seq import LossSettings, Seq2SeqTask

__all__ = ["LRSchedule", "LossSettings", "QATask", "RetrievalTask", "Seq2SeqTask", "Task"]
