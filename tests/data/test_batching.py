"""Token-budget batching (single process and DDP ranks) and padding/collation of batches."""

from __future__ import annotations

import random
from pathlib import Path

import datasets
import pytest
import torch
from lightning.fabric.utilities.data import _set_sampler_epoch

from encdec.data.batching import (
    Collator,
    Example,
    PairDataset,
    ResumableLoader,
    TokenBatchSampler,
)
from encdec.data.readers import read_lines


def random_lengths(n: int = 1000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 60) for _ in range(n)]


def padded_size(batch: list[int], lengths: list[int]) -> int:
    return max(lengths[i] for i in batch) * len(batch)


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_within_budget(shuffle: bool) -> None:
    lengths = random_lengths()
    sampler = TokenBatchSampler(lengths, max_tokens=300, shuffle=shuffle, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))
        assert all(b and padded_size(b, lengths) <= 300 for b in batches)


def test_batches_fill_the_budget() -> None:
    """Greedy packing: adding the next example of the sorted order would break the budget."""
    lengths = random_lengths()
    batches = list(TokenBatchSampler(lengths, max_tokens=300, shuffle=False))
    by_start = sorted(batches, key=lambda b: (lengths[b[0]], b[0]))
    for batch, following in zip(by_start, by_start[1:], strict=False):
        assert padded_size([*batch, following[0]], lengths) > 300
    assert len(batches) < len(lengths) / 4  # far fewer batches than examples


def test_epochs_reshuffle_only_when_shuffling() -> None:
    lengths = random_lengths()
    shuffled = TokenBatchSampler(lengths, max_tokens=300, shuffle=True, seed=0)
    orders = []
    for epoch in (0, 1, 0):
        shuffled.set_epoch(epoch)
        orders.append(list(shuffled))
    assert orders[0] != orders[1]
    assert orders[0] == orders[2]  # an epoch's order is reproducible
    assert (
        TokenBatchSampler(lengths, 300, shuffle=True, seed=1).__iter__().__next__() != orders[0][0]
    )

    fixed = TokenBatchSampler(lengths, max_tokens=300, shuffle=False)
    first = list(fixed)
    fixed.set_epoch(1)
    assert list(fixed) == first
    flat = [i for b in first for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths)  # sorted by length, shortest first


@pytest.mark.parametrize("n", [1000, 1003, 7])
def test_two_ranks_split_the_epoch(n: int) -> None:
    lengths = random_lengths(n, seed=n)
    single = list(TokenBatchSampler(lengths, 200, shuffle=True, seed=5))
    ranks = [
        TokenBatchSampler(lengths, 200, shuffle=True, seed=5, num_replicas=2, rank=r)
        for r in (0, 1)
    ]
    for s in ranks:
        s.set_epoch(0)
    r0, r1 = list(ranks[0]), list(ranks[1])
    assert len(r0) == len(r1) == len(ranks[0]) == len(ranks[1])
    flat0, flat1 = [i for b in r0 for i in b], [i for b in r1 for i in b]
    assert set(flat0) | set(flat1) == set(range(n))
    if len(single) % 2 == 0:
        assert not set(flat0) & set(flat1)
        assert sorted(flat0 + flat1) == list(range(n))
    else:
        # Equal step counts need one extra batch: the first one is repeated on the last rank.
        assert len(r0) + len(r1) == len(single) + 1 and r1[-1] == single[0]
        assert set(flat0) & set(flat1) == set(single[0])
    # Under the same epoch, ranks take alternating batches of the same list.
    assert r0 == single[0::2] and r1[: len(single) // 2] == single[1::2]


def test_rank_split_sizes_cover_both_parities() -> None:
    """The sizes in `test_two_ranks_split_the_epoch` must exercise both parities."""
    parities = {
        len(list(TokenBatchSampler(random_lengths(n, seed=n), 200))) % 2 for n in (1000, 1003, 7)
    }
    assert parities == {0, 1}


def test_max_tokens_below_longest_example() -> None:
    with pytest.raises(ValueError, match="max_tokens=50"):
        TokenBatchSampler([10, 60, 20], max_tokens=50)
    # The boundary is allowed: the longest example fills a batch alone.
    assert sorted(TokenBatchSampler([10, 60, 20], max_tokens=60, shuffle=False)) == [[0, 2], [1]]


def test_padding_overhead_on_multi30k(data_dir: Path) -> None:
    folder = data_dir / "multi30k"
    en, de = read_lines(folder / "train.en.gz"), read_lines(folder / "train.de.gz")
    # Word counts stand in for subword counts; the cost is the longer side (+1 for BOS/EOS).
    lengths = [max(len(s.split()), len(t.split()) + 1) for s, t in zip(en, de, strict=True)]
    sampler = TokenBatchSampler(lengths, max_tokens=4096, shuffle=True, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    padded = sum(padded_size(b, lengths) for b in batches)
    real = sum(lengths)
    assert padded <= 4096 * len(batches)
    assert (padded - real) / padded < 0.10
    # For contrast, the same batch sizes over a random order pad far more.
    rng = random.Random(0)
    order = rng.sample(range(len(lengths)), len(lengths))
    random_padded, start = 0, 0
    for b in batches:
        chunk = order[start : start + len(b)]
        random_padded += padded_size(chunk, lengths)
        start += len(b)
    assert (random_padded - real) / random_padded > 0.3


# -- Collator ----------------------------------------------------------------------------------

PAD, BOS, EOS = 0, 2, 3


def pair_dataset(
    src_ids: list[list[int]], tgt_ids: list[list[int]], src: list[str], tgt: list[str]
) -> PairDataset:
    """A PairDataset over an in-memory encoded table, as TranslationDataModule._encode makes."""
    table = datasets.Dataset.from_dict(
        {"src": src, "tgt": tgt, "src_ids": src_ids, "tgt_ids": tgt_ids}
    )
    return PairDataset(table)


def test_collator_pads_and_shifts() -> None:
    ds = pair_dataset(
        src_ids=[[10, 11, 12], [13], [14, 15]],
        tgt_ids=[[20, 21], [22, 23, 24, 25], [26]],
        src=["a b c", "d", "e f"],
        tgt=["A B", "C D E F", "G"],
    )
    batch = Collator(PAD, BOS, EOS)([ds[2], ds[0], ds[1]])
    assert batch.ids.tolist() == [2, 0, 1]
    assert batch.src_text == ["e f", "a b c", "d"] and batch.tgt_text == ["G", "A B", "C D E F"]
    assert batch.src.tolist() == [[14, 15, 0], [10, 11, 12], [13, 0, 0]]
    assert batch.src_lengths.tolist() == [2, 3, 1]
    assert batch.tgt_in.tolist() == [
        [BOS, 26, 0, 0, 0],
        [BOS, 20, 21, 0, 0],
        [BOS, 22, 23, 24, 25],
    ]
    assert batch.tgt_out.tolist() == [
        [26, EOS, 0, 0, 0],
        [20, 21, EOS, 0, 0],
        [22, 23, 24, 25, EOS],
    ]
    assert len(batch) == 3
    assert batch.src.dtype == batch.tgt_in.dtype == batch.tgt_out.dtype == torch.long


def test_collator_invariants_on_random_examples() -> None:
    rng = random.Random(1)
    pad, bos, eos = 7, 8, 9  # not the defaults, so a hard-coded id would show
    examples = []
    for i in range(20):
        src = [rng.randint(10, 99) for _ in range(rng.randint(1, 12))]
        tgt = [rng.randint(10, 99) for _ in range(rng.randint(1, 12))]
        examples.append(Example(i, src, tgt, "", "", [""], []))
    batch = Collator(pad, bos, eos)(examples)
    for row, (_, src, tgt, *_) in enumerate(examples):
        n, m = len(src), len(tgt)
        assert batch.src_lengths[row] == n
        assert batch.src[row, :n].tolist() == src and (batch.src[row, n:] == pad).all()
        assert batch.tgt_in[row, 0] == bos and batch.tgt_in[row, 1 : m + 1].tolist() == tgt
        assert batch.tgt_out[row, :m].tolist() == tgt and batch.tgt_out[row, m] == eos
        assert (batch.tgt_in[row, m + 1 :] == pad).all() and (
            batch.tgt_out[row, m + 1 :] == pad
        ).all()
        # tgt_out is tgt_in shifted left by one.
        assert batch.tgt_in[row, 1 : m + 1].tolist() == batch.tgt_out[row, :m].tolist()
    assert batch.tgt_in.size(1) == max(len(e[2]) for e in examples) + 1
    assert batch.src.size(1) == max(len(e[1]) for e in examples)


def test_pair_dataset_lengths() -> None:
    ds = pair_dataset([[1, 2, 3], [4]], [[5], [6, 7, 8]], ["", ""], ["", ""])
    assert ds.lengths() == [3, 4]  # longest side, target +1 for BOS/EOS
    assert len(ds) == 2 and ds[1] == Example(1, [4], [6, 7, 8], "", "", [""], [])
    # A batch is one Arrow gather; sources are cut to max_src_len on reading (val / test).
    cut = PairDataset(ds.table.select([1, 0]), max_src_len=2, references=[["r"], ["s", "t"]])
    assert cut.__getitems__([1, 0]) == [
        Example(1, [1, 2], [5], "", "", ["s", "t"], []),
        Example(0, [4], [6, 7, 8], "", "", ["r"], []),
    ]
    assert cut.lengths() == [4, 2] and cut.column("src_ids") == [[4], [1, 2]]


def test_resume_mid_epoch_continues_the_same_batches() -> None:
    lengths = random_lengths()
    sampler = TokenBatchSampler(lengths, max_tokens=300, shuffle=True, seed=5)
    sampler.set_epoch(2)
    epoch2 = list(sampler)
    restarted = TokenBatchSampler(lengths, max_tokens=300, shuffle=True, seed=5)  # a new process
    restarted.resume(epoch=2, batches_done=7)
    assert list(restarted) == epoch2[7:]  # the rest of epoch 2, in the same order
    assert list(restarted) == epoch2  # the skip is used once; the epoch repeats whole after
    restarted.resume(epoch=1, batches_done=7)
    restarted.set_epoch(2)  # the saved position belongs to another epoch: ignored
    assert list(restarted) == epoch2


def test_resumable_loader_saves_and_restores_the_position() -> None:
    lengths = random_lengths(200)
    ds = pair_dataset(
        [[1] * n for n in lengths], [[2] * n for n in lengths], [""] * 200, [""] * 200
    )
    progress = (1, 4)  # (epoch, batches trained), as the Trainer reports them

    def loader() -> ResumableLoader:
        sampler = TokenBatchSampler(ds.lengths(), max_tokens=300, shuffle=True, seed=1)
        return ResumableLoader(
            ds, batch_sampler=sampler, collate_fn=Collator(0, 1, 2), progress=lambda: progress
        )

    def ids(batches) -> list[list[int]]:
        return [b.ids.tolist() for b in batches]

    first = loader()
    _set_sampler_epoch(first, 1)  # what Lightning does before every epoch
    assert first.batch_sampler.epoch == 1
    epoch1 = ids(first)
    state = first.state_dict()
    assert state == {"epoch": 1, "batches_done": 4}

    second = loader()  # a restarted process
    second.load_state_dict(state)
    _set_sampler_epoch(second, 1)
    assert ids(second) == epoch1[4:]
    _set_sampler_epoch(second, 2)
    assert len(ids(second)) == len(epoch1)  # the next epoch is whole
