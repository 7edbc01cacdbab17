"""Lightning callbacks: dashboard reports, and surviving faults (resume, NaN stop, Ctrl-C)."""

from encdec.callbacks.attention_plots import AttentionHeatmaps
from encdec.callbacks.averaging import CheckpointAveraging
from encdec.callbacks.elapsed import ElapsedTime
from encdec.callbacks.faults import (
    InterruptCheckpoint,
    RngState,
    StopOnNonFiniteLoss,
    TrainingDiverged,
)
from encdec.callbacks.freeze import FreezeParameters
from encdec.callbacks.grad_norm import GradNormMonitor
from encdec.callbacks.samples import SampleTable
from encdec.callbacks.throughput import TokenThroughput

__all__ = [
    "AttentionHeatmaps",
    "CheckpointAveraging",
    "ElapsedTime",
    "FreezeParameters",
    "GradNormMonitor",
    "InterruptCheckpoint",
    "RngState",
    "SampleTable",
    "StopOnNonFiniteLoss",
    "TokenThroughput",
    "TrainingDiverged",
]
