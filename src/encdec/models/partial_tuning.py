"""Fine-tune only some rows of an embedding matrix: DrQA's 1,000 most frequent question words.

DrQA (Chen et al. 2017) keeps most word vectors fixed after pretraining and fine-tunes only the
most frequent question words ("what", "how", "which", ...), whose meaning in a question matters
most to the reader. Here a gradient hook zeroes the gradient of every other row, so any
optimizer leaves them unchanged, as long as it applies no weight decay to the embeddings (decay
moves a row without a gradient: put the embedding in a param group with weight_decay 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def most_frequent_ids(
    question_ids: Iterable[Sequence[int]], k: int, exclude: Collection[int] = ()
) -> torch.Tensor:
    """The ids of the `k` most frequent tokens over the questions (ties: smaller id first),
    leaving out `exclude` (padding, unknown). (k',) long, k' <= k."""
    if k < 0:
        raise ValueError(f"tune_top_k={k}: give 0 (tune no row) or more rows.")
    counts = Counter(i for q in question_ids for i in q if i not in exclude)
    ranked = sorted(counts, key=lambda i: (-counts[i], i))[:k]
    return torch.tensor(ranked, dtype=torch.long)


def tune_only_rows(embedding: nn.Embedding, rows: torch.Tensor) -> RemovableHandle:
    """Let only `rows` (R,) of `embedding.weight` (V, D) receive gradient from now on.

    Returns the hook's handle (`.remove()` tunes every row again). The weight keeps requiring
    gradient, so the tuned rows train with the rest of the network.
    """
    vocab = embedding.num_embeddings
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= vocab):
        raise ValueError(f"Rows to tune must be ids in [0, {vocab}); got {rows.tolist()[:8]}...")
    mask = torch.zeros(vocab, 1, dtype=embedding.weight.dtype)  # (V, 1)
    mask[rows] = 1.0

    def keep_rows(grad: torch.Tensor) -> torch.Tensor:  # (V, D)
        return grad * mask.to(device=grad.device, dtype=grad.dtype)

    return embedding.weight.register_hook(keep_rows)
