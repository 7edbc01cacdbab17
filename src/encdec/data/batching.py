"""Length-bucketed batches with a token budget (as in fairseq / Joey NMT), and their collation."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import datasets
import numpy as np
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from encdec.data.arrow import BATCH_ROWS


@dataclass
class Batch:
    """A padded seq2seq batch. Shapes: src (B, S), src_lengths (B,), tgt_in/tgt_out (B, T), ids (B,).

    With an extended vocabulary (pointer-generator copy), `src` and `tgt_in` hold in-vocabulary ids
    (a source-only word is <unk>), `src_ext` (B, S) and `tgt_out` use per-example ids V + j for
    the j-th source-only word `oov[b][j]`. `references` holds every reference of an example.
    """

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor
    ids: torch.Tensor
    src_text: list[str]
    tgt_text: list[str]
    references: list[list[str]] | None = None
    src_ext: torch.Tensor | None = None
    oov: list[list[str]] | None = None

    def __len__(self) -> int:
        return self.src.size(0)


class Example(NamedTuple):
    """One encoded pair: its id in the split, token ids, texts, every reference of it (multi-
    reference metrics; [tgt_text] when there is one) and its source-only words (copying; [])."""

    id: int
    src_ids: list[int]
    tgt_ids: list[int]
    src_text: str
    tgt_text: str
    references: list[str]
    oov: list[str]


class PairDataset(Dataset):
    """Token ids and texts of one split, indexed by example id, read from an encoded Arrow table
    (columns `src`, `tgt`, `src_ids`, `tgt_ids`, `oov`; memory-mapped, never held in Python).

    `max_src_len` truncates every source on reading (val / test keep their long sources, cut to
    what the model takes). Optional: `references` (all references of each example, for
    multi-reference metrics) and `with_oov` (the `oov` column holds each example's source-only
    words; its ids then use the extended vocabulary).
    """

    def __init__(
        self,
        table: datasets.Dataset,
        max_src_len: int | None = None,
        references: list[list[str]] | None = None,
        with_oov: bool = False,
    ) -> None:
        if references is not None and len(references) != len(table):
            raise ValueError(f"{len(references)} reference lists for {len(table)} examples")
        self.table, self.max_src_len = table, max_src_len
        self.references, self.with_oov = references, with_oov

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> Example:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]) -> list[Example]:
        """A batch of examples with one Arrow gather (the DataLoader calls it per batch)."""
        rows = self.table[list(indices)]
        out = []
        for k, i in enumerate(indices):
            tgt = rows["tgt"][k]
            out.append(
                Example(
                    id=i,
                    src_ids=rows["src_ids"][k][: self.max_src_len],
                    tgt_ids=rows["tgt_ids"][k],
                    src_text=rows["src"][k],
                    tgt_text=tgt,
                    references=self.references[i] if self.references is not None else [tgt],
                    oov=rows["oov"][k] if self.with_oov else [],
                )
            )
        return out

    def column(self, name: str) -> list:
        """One whole column as a Python list (`src_ids` truncated as the examples are): for tests
        and small splits; a large split is read through batches."""
        values = self.table[name][:]
        if name == "src_ids":
            values = [ids[: self.max_src_len] for ids in values]
        return values

    def lengths(self) -> list[int]:
        """Cost of each example in a batch: its longest side (+1 for BOS/EOS on the target),
        computed on the Arrow columns."""
        src, tgt = list_lengths(self.table, "src_ids"), list_lengths(self.table, "tgt_ids")
        if self.max_src_len is not None:
            src = np.minimum(src, self.max_src_len)
        return np.maximum(src, tgt + 1).tolist()


def list_lengths(table: datasets.Dataset, column: str) -> np.ndarray:
    """The length of every list in a column of token ids, computed by Arrow a batch at a time."""
    parts = [
        pc.list_value_length(batch[column]).to_numpy(zero_copy_only=False)
        for batch in table.select_columns([column]).with_format("arrow").iter(BATCH_ROWS)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class Collator:
    """Pad a list of examples into a Batch; the target gets BOS in front (input) or EOS behind.

    With `vocab_size` and `unk_id` the ids may be extended (>= vocab_size, copied source words):
    `src_ext` keeps them, `tgt_out` keeps them (the copy target), `src` / `tgt_in` get <unk>.
    """

    def __init__(
        self,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        vocab_size: int | None = None,
        unk_id: int | None = None,
    ) -> None:
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.vocab_size, self.unk_id = vocab_size, unk_id

    def __call__(self, examples: list[Example]) -> Batch:
        srcs, tgts = [e.src_ids for e in examples], [e.tgt_ids for e in examples]
        batch, max_src, max_tgt = len(srcs), max(map(len, srcs)), max(map(len, tgts)) + 1
        src = torch.full((batch, max_src), self.pad_id, dtype=torch.long)
        tgt_in = torch.full((batch, max_tgt), self.pad_id, dtype=torch.long)
        tgt_out = torch.full((batch, max_tgt), self.pad_id, dtype=torch.long)
        for i, (s, t) in enumerate(zip(srcs, tgts, strict=True)):
            src[i, : len(s)] = torch.tensor(s)
            tgt_in[i, : len(t) + 1] = torch.tensor([self.bos_id, *t])
            tgt_out[i, : len(t) + 1] = torch.tensor([*t, self.eos_id])
        src_ext = None
        if self.vocab_size is not None:
            assert self.unk_id is not None  # given with vocab_size
            src_ext = src
            src = src.masked_fill(src >= self.vocab_size, self.unk_id)
            tgt_in = tgt_in.masked_fill(tgt_in >= self.vocab_size, self.unk_id)
        return Batch(
            src=src,
            src_lengths=torch.tensor([len(s) for s in srcs]),
            tgt_in=tgt_in,
            tgt_out=tgt_out,
            ids=torch.tensor([e.id for e in examples]),
            src_text=[e.src_text for e in examples],
            tgt_text=[e.tgt_text for e in examples],
            references=[list(e.references) for e in examples],
            src_ext=src_ext,
            oov=[list(e.oov) for e in examples],
        )


class TokenBatchSampler(Sampler[list[int]]):
    """Batches of similar-length examples holding at most `max_tokens` padded tokens each.

    Examples are sorted by length (ties broken randomly when shuffling) and cut into batches, so
    padding stays small; the batch order is shuffled every epoch. Under DDP every rank takes every
    `num_replicas`-th batch of the same list; when the batches do not divide evenly, the first ones
    are repeated so every rank runs the same number of steps (evaluation keys its outputs by example
    id, so a repeated example is not counted twice).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        max_tokens: int,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if max_tokens < max(lengths, default=0):
            raise ValueError(
                f"max_tokens={max_tokens} is smaller than the longest example ({max(lengths)} "
                f"tokens); raise data.max_tokens or lower data.max_len."
            )
        self.lengths = list(lengths)
        self.max_tokens, self.shuffle, self.seed = max_tokens, shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0
        self._cache: tuple[int, list[list[int]]] | None = None
        #: (epoch, batches to skip): set by `resume`, used once by the next `__iter__`.
        self._resume_at: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def sampler(self) -> TokenBatchSampler:
        """Itself: Lightning calls `set_epoch` on `loader.batch_sampler.sampler` before each epoch
        (and `loader.sampler` of a batch-sampler loader is a plain SequentialSampler)."""
        return self

    def resume(self, epoch: int, batches_done: int) -> None:
        """Skip the first `batches_done` batches the next time epoch `epoch` is iterated."""
        self.epoch = epoch
        self._resume_at = (epoch, batches_done)

    def _all_batches(self) -> list[list[int]]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        order = (
            torch.randperm(len(self.lengths), generator=gen).tolist()
            if self.shuffle
            else range(len(self.lengths))
        )
        order = sorted(order, key=self.lengths.__getitem__)  # stable: random ties when shuffled
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            longest_if_added = max(longest, self.lengths[i])
            if current and longest_if_added * (len(current) + 1) > self.max_tokens:
                batches.append(current)
                current, longest_if_added = [], self.lengths[i]
            current.append(i)
            longest = longest_if_added
        if current:
            batches.append(current)
        if self.shuffle:
            perm = torch.randperm(len(batches), generator=gen).tolist()
            batches = [batches[p] for p in perm]
        # Every rank must run the same number of steps: repeat batches from the start if needed.
        total = math.ceil(len(batches) / self.num_replicas) * self.num_replicas
        return batches + batches[: total - len(batches)]

    def _my_batches(self) -> list[list[int]]:
        if self._cache is None or self._cache[0] != self.epoch:
            self._cache = (self.epoch, self._all_batches()[self.rank :: self.num_replicas])
        return self._cache[1]

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume_at is not None and self._resume_at[0] == self.epoch:
            skip = self._resume_at[1]
        self._resume_at = None
        yield from self._my_batches()[skip:]

    def __len__(self) -> int:
        return len(self._my_batches())


class ResumableLoader(DataLoader):
    """A DataLoader over a TokenBatchSampler that Lightning can checkpoint and restore mid-epoch.

    Lightning saves `state_dict()` of a training loader that has one in every checkpoint and hands
    it back to `load_state_dict()` before the first batch of a resumed run; the sampler then skips
    the batches the interrupted run had already trained on. `progress` reports (epoch, batches
    trained in this epoch) from the Trainer: the sampler alone cannot know it, because batches are
    fetched ahead of the training step.
    """

    def __init__(self, *args: Any, progress: Callable[[], tuple[int, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def state_dict(self) -> dict[str, int]:
        epoch, batches_done = self.progress()
        return {"epoch": epoch, "batches_done": batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        assert isinstance(self.batch_sampler, TokenBatchSampler)
        self.batch_sampler.resume(state["epoch"], state["batches_done"])
