"""The one record every retriever returns: the best passages of each question, best first."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Ranking(NamedTuple):
    """ids (Q, k) int64 passage numbers, best first; scores (Q, k) float32, higher is better.

    Passage numbers are positions in the collection the retriever was built over.
    """

    ids: np.ndarray
    scores: np.ndarray

    @property
    def depth(self) -> int:
        """How many passages each question got (k)."""
        return self.ids.shape[1]
