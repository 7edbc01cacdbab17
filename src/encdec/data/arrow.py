"""A split's text as an Arrow table on disk: written once from rows, memory-mapped, read in batches.

A corpus of millions of pairs never lives in Python lists: the readers' rows are written to an
Arrow file in batches (`write_rows`), `datasets` memory-maps it, and everything downstream (the
tokenizer trainer, the cache keys, Word2Vec) reads it through `TextColumns`, a sequence that
streams the columns batch by batch. Peak memory then stays bounded as the corpus grows
(bench/data_scaling.py, docs/own-data.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import datasets
import pyarrow as pa

from encdec.files import atomic_path, file_lock

#: Rows per Arrow record batch when writing, and per batch when reading back.
BATCH_ROWS = 10_000


def row_schema(with_references: bool) -> pa.Schema:
    """Text pairs: src, tgt (and a list of references, null where a row has none)."""
    fields = [pa.field("src", pa.string()), pa.field("tgt", pa.string())]
    if with_references:
        fields.append(pa.field("references", pa.list_(pa.string())))
    return pa.schema(fields)


#: Questions, in the layout of the hub's `squad` dataset.
QA_SCHEMA = pa.schema(
    [
        *(pa.field(name, pa.string()) for name in ("id", "title", "context", "question")),
        pa.field(
            "answers",
            pa.struct([("text", pa.list_(pa.string())), ("answer_start", pa.list_(pa.int64()))]),
        ),
    ]
)


def write_rows(rows: Iterable[Sequence[Any]], path: Path, schema: pa.Schema) -> None:
    """Write `rows` (tuples in the schema's column order) to an Arrow stream file (the format
    `datasets.Dataset.from_file` maps), `BATCH_ROWS` at a time: memory holds one batch,
    whatever the corpus size."""

    def flush(batch: list[Sequence[Any]], writer: pa.ipc.RecordBatchStreamWriter) -> None:
        columns = [[r[i] for r in batch] for i in range(len(schema.names))]
        writer.write_batch(pa.record_batch(columns, schema=schema))

    with atomic_path(path) as tmp, pa.OSFile(str(tmp), "wb") as sink:
        with pa.ipc.new_stream(sink, schema) as writer:
            batch: list[Sequence[Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH_ROWS:
                    flush(batch, writer)
                    batch = []
            if batch:
                flush(batch, writer)


def file_identity(path: str | Path) -> tuple[str, int, int]:
    """(absolute name, size, modification time): part of a cache key, so an edited source file
    is read again."""
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns


def cached_rows(rows: Iterable[Sequence[Any]], path: Path, schema: pa.Schema) -> datasets.Dataset:
    """The rows as a memory-mapped Dataset, written to `path` the first time (by one process:
    DDP ranks and parallel runs wait for it, then map the same file)."""
    with file_lock(path):
        if not path.is_file():
            write_rows(rows, path, schema)
    return datasets.Dataset.from_file(str(path))


class TextColumns(Sequence[str]):
    """Every string of some columns of a Dataset, column after column (e.g. every source, then
    every target: the text a joint vocabulary is trained on), read in batches of `BATCH_ROWS`.

    A `Sequence`, so the tokenizer trainers, `fingerprint` and Word2Vec take it as they take a
    list, and give the same result; slicing (`texts[::step]`, `texts[:100]`) returns a list.
    """

    def __init__(self, table: datasets.Dataset, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)

    def __len__(self) -> int:
        return len(self.table) * len(self.columns)

    def __iter__(self) -> Iterator[str]:
        for column in self.columns:
            for batch in self.table.select_columns([column]).iter(batch_size=BATCH_ROWS):
                yield from batch[column]

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        rows = len(self.table)
        if isinstance(index, slice):
            positions = range(len(self))[index]
            found: dict[int, str] = {}
            for c, column in enumerate(self.columns):
                mine = [p for p in positions if c * rows <= p < (c + 1) * rows]
                texts = self.table.select_columns([column])[[p - c * rows for p in mine]]
                found.update(zip(mine, texts[column], strict=True))
            return [found[p] for p in positions]
        position = range(len(self))[index]  # IndexError when out of range
        part, row = divmod(position, rows)
        return self.table[row][self.columns[part]]
