"""Lightning callbacks that report to the dashboard."""

from encdec.callbacks.samples import SampleTable

__all__ = ["SampleTable"]
