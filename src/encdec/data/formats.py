"""Readers of a user's parallel / summary corpus: one function per file format.

Each reader yields `Row`s (source, target, references or None) and raises `DataError` naming
the file, the line (or row) and the fix: bad encoding, missing column or field, a ragged CSV
row, mismatched line counts, an empty file. Rows with an empty side are yielded as they are:
the datamodule drops and counts them, as for the built-in corpora.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from encdec.data.readers import json_lines, numbered_lines
from encdec.errors import DataError

#: One field of a row: a column name (TSV / CSV with a header, JSON lines, dotted for nested
#: objects), a column index (TSV / CSV) or None (the first / second column).
Field = str | int | None

FORMATS = ("tsv", "csv", "jsonl", "text")


class Row(NamedTuple):
    source: str
    target: str
    references: list[str] | None = None


def detect_format(path: str | Path) -> str:
    """tsv | csv | jsonl from a file name (a `.gz` suffix is looked through)."""
    name = str(path).lower().removesuffix(".gz")
    for suffix, fmt in ((".tsv", "tsv"), (".tab", "tsv"), (".csv", "csv"), (".jsonl", "jsonl")):
        if name.endswith(suffix):
            return fmt
    if name.endswith((".json", ".ndjson")):
        return "jsonl"
    raise DataError(
        f"{path}: cannot tell the format from the file name (known: .tsv, .csv, .jsonl, each "
        f"optionally .gz; a pair of plain text files is named with {{lang}}, e.g. train.{{lang}}"
        f".gz). Set data.source.format=tsv|csv|jsonl."
    )


def _empty(path: Path) -> DataError:
    return DataError(f"{path} has no rows: every split needs at least one pair.")


def as_text(value: object, path: Path | str, where: str, field: str) -> str:
    """A field's value as text (a number as its digits, missing as empty), else a DataError."""
    if value is None:
        return ""  # an empty side: dropped and counted later
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise DataError(
        f"{path}, {where}: field {field!r} holds {type(value).__name__} {str(value)[:60]!r}, not "
        f"text. Point data.source.source_field / data.source.target_field at a text field."
    )


def as_references(value: object, path: Path | str, where: str, field: str) -> list[str]:
    """A field's value as a non-empty list of texts, else a DataError."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise DataError(
            f"{path}, {where}: field {field!r} must be a non-empty list of texts (the "
            f"references), not {str(value)[:60]!r}. Fix the row or unset data.source.references_field."
        )
    return value


def read_delimited(
    path: Path,
    delimiter: str,
    source: Field = None,
    target: Field = None,
    references: Field = None,
    header: bool | None = None,
) -> Iterator[Row]:
    """A TSV / CSV file, quoted as the `csv` module does (fields may hold the delimiter, quotes
    and line breaks inside quotes). Fields are column names (with a header row) or 0-based
    indices; None: the first and second column. `header=None`: a header row when a field is a
    name. With `references` (TSV / CSV: one column), the references are a JSON list in it."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    names = [f for f in (source, target, references) if isinstance(f, str)]
    has_header = bool(names) if header is None else header
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))  # long documents
    reader = csv.reader((line for _, line in numbered_lines(path)), delimiter=delimiter)
    columns: list[int] = []
    width, rows = None, 0
    for count, fields in enumerate(_checked(reader, path), start=1):
        if not fields:  # a blank line
            continue
        where = f"row {count} (line {reader.line_num})"
        if width is None:  # the first row: the header, or the width every row must have
            width = len(fields)
            columns = _columns(path, kind, fields if has_header else None, width,
                               (source, target, references))  # fmt: skip
            if has_header:
                continue
        if len(fields) != width:
            raise DataError(
                f"{path}, {where}: {len(fields)} fields where the first row has {width}. A "
                f"field holding the delimiter ({delimiter!r}), a quote or a line break must be "
                f'quoted ("...", quotes inside doubled), as Python\'s csv module writes it.'
            )
        refs = None
        if len(columns) > 2:
            try:
                value = json.loads(fields[columns[2]])
            except json.JSONDecodeError:
                value = fields[columns[2]]
            refs = as_references(value, path, where, str(references))
        rows += 1
        yield Row(fields[columns[0]], fields[columns[1]], refs)
    if not rows:
        raise _empty(path)


class _CsvRows(Protocol):
    """What `_checked` reads of a `csv.reader`: its rows and the line it is at."""

    line_num: int

    def __next__(self) -> list[str]: ...


def _checked(reader: _CsvRows, path: Path) -> Iterator[list[str]]:
    """The rows of a csv reader, its own errors (e.g. a quote left open) as DataErrors."""
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(
                f"{path}, line {reader.line_num}: {err}. Quote fields as Python's csv module "
                f'writes them ("...", quotes inside doubled).'
            ) from None
        yield fields


def _columns(
    path: Path, kind: str, header: list[str] | None, width: int, fields: Sequence[Field]
) -> list[int]:
    """Column indices of source, target (and references, if given) in a TSV / CSV file."""
    wanted = [fields[0] if fields[0] is not None else 0, fields[1] if fields[1] is not None else 1]
    if fields[2] is not None:
        wanted.append(fields[2])
    out = []
    for role, field in zip(("source", "target", "references"), wanted, strict=False):
        if isinstance(field, str):
            if header is None:
                raise DataError(
                    f"{path}: data.source.{role}_field={field!r} names a column, but data.source.header=false."
                    f" Give a 0-based column index instead, or set data.source.header=true."
                )
            if field not in header:
                raise DataError(
                    f"{path}, row 1 (the header): no column {field!r}; its columns are "
                    f"{header}. Set data.source.{role}_field to one of them (or a 0-based index)."
                )
            out.append(header.index(field))
        elif isinstance(field, int) and 0 <= field < width:
            out.append(field)
        else:
            raise DataError(
                f"{path}, row 1: no column {field!r} ({kind} rows here have {width} fields: "
                f"indices 0 to {width - 1}). Set data.source.{role}_field, or check the delimiter "
                f"(data.source.format=tsv for tabs, csv for commas)."
            )
    return out


def dig(row: object, field: str) -> object:
    """`row[field]`, a dotted path walking into nested objects (`translation.de`); KeyError."""
    if isinstance(row, dict) and field in row:
        return row[field]
    node = row
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(field)
        node = node[part]
    return node


def read_jsonl(path: Path, source: Field, target: Field, references: Field = None) -> Iterator[Row]:
    """JSON lines: one object per line; fields by name, nested ones by a dotted path."""
    if not isinstance(source, str) or not isinstance(target, str):
        raise DataError(
            f"{path}: JSON lines need field names: set data.source.source_field and data.source.target_field "
            f"(dotted for nested objects, e.g. translation.de)."
        )
    count = 0
    for number, row in json_lines(path, "Each line must be one JSON object."):
        where = f"line {number}"
        values: list[object] = []
        for role, field in (("source", source), ("target", target), ("references", references)):
            if field is None:
                values.append(None)
                continue
            try:
                values.append(dig(row, str(field)))
            except KeyError:
                if role == "references":  # a row without references: its target is the one
                    values.append(None)
                    continue
                present = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise DataError(
                    f"{path}, {where}: no field {field!r} (the row has {present}). Set "
                    f"data.source.{role}_field to the right name (dotted for nested, e.g. "
                    f"translation.de)."
                ) from None
        refs = None if values[2] is None else as_references(values[2], path, where, str(references))
        count += 1
        yield Row(
            as_text(values[0], path, where, source), as_text(values[1], path, where, target), refs
        )
    if not count:
        raise _empty(path)


def read_text_pair(src_path: Path, tgt_path: Path) -> Iterator[Row]:
    """Two plain text files (optionally gzipped): line i of one is the pair of line i of the
    other."""
    count = 0
    pairs = itertools.zip_longest(numbered_lines(src_path), numbered_lines(tgt_path))
    for src, tgt in pairs:
        if src is None or tgt is None:
            longer, shorter = (src_path, tgt_path) if tgt is None else (tgt_path, src_path)
            raise DataError(
                f"{shorter} ends after line {count} but {longer} goes on (line {count + 1}): "
                f"parallel files must hold one sentence per line, aligned, the same number of "
                f"lines."
            )
        count += 1
        yield Row(src[1].rstrip("\r\n"), tgt[1].rstrip("\r\n"))
    if not count:
        raise _empty(src_path)


def read_file(
    path: Path,
    fmt: str,
    source: Field = None,
    target: Field = None,
    references: Field = None,
    header: bool | None = None,
) -> Iterator[Row]:
    """The rows of one TSV / CSV / JSON-lines file."""
    if fmt == "tsv":
        return read_delimited(path, "\t", source, target, references, header)
    if fmt == "csv":
        return read_delimited(path, ",", source, target, references, header)
    if fmt == "jsonl":
        return read_jsonl(path, source, target, references)
    raise DataError(
        f"{path}: unknown format {fmt!r}; data.source.format is one of {FORMATS} or auto."
    )
