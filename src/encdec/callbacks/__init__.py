"""Lightning callbacks: dashboard reports, and surviving faults (resume, NaN stop, Ctrl-C)."""

from encdec.callbacks.faults import (
    InterruptCheckpoint,
    RngState,
    StopOnNonFiniteLoss,
    TrainingDiverged,
)
from encdec.callbacks.samples import SampleTable

__all__ = [
    "InterruptCheckpoint",
    "RngState",
    "SampleTable",
    "StopOnNonFiniteLoss",
    "TrainingDiverged",
]
