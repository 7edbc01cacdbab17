"""Splits as Arrow files: written in batches, cached, and read back as the lists they replace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from encdec.data import arrow
from encdec.data.arrow import TextColumns, cached_rows, row_schema
from encdec.data.formats import Row
from encdec.data.readers import read_lines
from encdec.data.tokenization import fingerprint, train_bpe

ROWS = [Row(f"source {i}", f"target {i}", [f"ref {i}", f"other {i}"]) for i in range(23)]


def test_rows_round_trip_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrow, "BATCH_ROWS", 5)  # 23 rows: four full batches and a partial one
    table = cached_rows(iter(ROWS), tmp_path / "rows.arrow", row_schema(True))
    assert table.column_names == ["src", "tgt", "references"]
    assert [Row(r["src"], r["tgt"], r["references"]) for r in table] == ROWS


def test_cached_rows_are_read_from_the_source_once(tmp_path: Path) -> None:
    path = tmp_path / "rows.arrow"
    cached_rows(iter(ROWS), path, row_schema(True))

    def never() -> Iterator[Row]:
        raise AssertionError("the source was read again")
        yield  # a generator

    assert len(cached_rows(never(), path, row_schema(True))) == len(ROWS)


def test_a_failing_source_leaves_no_cache(tmp_path: Path) -> None:
    def broken() -> Iterator[Row]:
        yield Row("a", "b")
        raise ValueError("line 2 is bad")

    path = tmp_path / "rows.arrow"
    with pytest.raises(ValueError, match="line 2"):
        cached_rows(broken(), path, row_schema(False))
    # No half-written file for the next run to trust (the lock file may stay).
    assert not path.exists() and not list(tmp_path.glob("*.tmp"))


@pytest.fixture(scope="module")
def multi30k(data_dir: Path) -> tuple[list[str], list[str]]:
    return read_lines(data_dir / "multi30k" / "val.en.gz"), read_lines(
        data_dir / "multi30k" / "val.de.gz"
    )


def test_text_columns_read_as_the_concatenated_list(
    multi30k: tuple[list[str], list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrow, "BATCH_ROWS", 100)  # 1,014 rows: many batches per column
    src, tgt = multi30k
    table = cached_rows(
        (Row(s, t) for s, t in zip(src, tgt, strict=True)), tmp_path / "r.arrow", row_schema(False)
    )
    texts, expected = TextColumns(table, ("src", "tgt")), src + tgt
    assert len(texts) == len(expected) and list(texts) == expected
    for index in (0, 1013, 1014, -1, -2028):
        assert texts[index] == expected[index]
    for cut in (slice(None, None, 7), slice(5, 1500), slice(None, None, -3), slice(2000, 10)):
        assert texts[cut] == expected[cut]
    with pytest.raises(IndexError):
        texts[len(expected)]
    # A table with rows selected (held-out splits, limit_train) reads in its own order.
    picked = TextColumns(table.select([9, 3, 5]), ("tgt",))
    assert list(picked) == [tgt[9], tgt[3], tgt[5]] and picked[1:] == [tgt[3], tgt[5]]


def test_cache_keys_and_tokenizer_are_those_of_the_lists(
    multi30k: tuple[list[str], list[str]], tmp_path: Path
) -> None:
    """Streaming changes no cached artefact: the same keys, the same trained vocabulary."""
    src, tgt = multi30k
    table = cached_rows(
        (Row(s, t) for s, t in zip(src, tgt, strict=True)), tmp_path / "r.arrow", row_schema(False)
    )
    texts = TextColumns(table, ("src", "tgt"))
    assert fingerprint(texts, stage="train") == fingerprint(src + tgt, stage="train")
    assert train_bpe(texts, 600).to_str() == train_bpe(src + tgt, 600).to_str()
