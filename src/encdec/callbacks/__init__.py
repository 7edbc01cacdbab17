"""Lightning callbacks that report to the dashboard."""

from encdec.callbacks.attention_plots import AttentionHeatmaps
from encdec.callbacks.grad_norm import GradNormMonitor
from encdec.callbacks.samples import SampleTable

__all__ = ["AttentionHeatmaps", "GradNormMonitor", "SampleTable"]
