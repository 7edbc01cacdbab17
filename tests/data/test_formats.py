"""The format readers of data=text_pairs: quoting, headers, nested fields, and every format error
naming the file, the line and the fix."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from encdec.data.formats import (
    Row,
    detect_format,
    read_delimited,
    read_file,
    read_jsonl,
    read_text_pair,
)
from encdec.errors import DataError

TRICKY = [
    ("A man, a plan", 'Er sagte "Hallo"'),
    ("tab\tinside", "line\nbreak"),
    ("", "empty source"),
]


def write_csv(path: Path, rows: list, delimiter: str = ",", header: list | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_quoted_fields_round_trip(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "a.txt", TRICKY, delimiter)
    rows = list(read_delimited(path, delimiter))
    assert rows == [Row(s, t) for s, t in TRICKY]  # the empty side is kept (dropped later)


def test_header_names_and_indices(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [("x", "1", "y")], header=["src", "id", "tgt"])
    assert list(read_delimited(path, ",", "src", "tgt")) == [Row("x", "y")]
    assert list(read_delimited(path, ",", 2, 0, header=True)) == [Row("y", "x")]
    assert list(read_delimited(path, ",", 0, 2)) == [Row("src", "tgt"), Row("x", "y")]


def test_references_column_holds_a_json_list(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [("d", "s", json.dumps(["s", "t"]))], header=list("abc"))
    assert list(read_delimited(path, ",", "a", "b", "c")) == [Row("d", "s", ["s", "t"])]


def test_jsonl_nested_fields_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    rows = [{"translation": {"en": "a", "de": "b"}, "refs": ["b", "c"]}]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    assert detect_format(path) == "jsonl"
    got = list(read_file(path, "jsonl", "translation.en", "translation.de", "refs"))
    assert got == [Row("a", "b", ["b", "c"])]


def test_text_pair(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\n")
    (tmp_path / "a.de").write_text("eins\r\nzwei\n")
    assert list(read_text_pair(tmp_path / "a.en", tmp_path / "a.de")) == [
        Row("one", "eins"),
        Row("two", "zwei"),
    ]


def error(fn, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        list(fn(*args, **kwargs))
    return str(info.value)


def test_bad_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_bytes(b"ok\tgut\n" + "caf\xe9\tx\n".encode("latin-1"))
    message = error(read_file, path, "tsv")
    assert f"{path}, line 2: not valid UTF-8" in message and "iconv" in message


def test_missing_column_names_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [("x", "y")], header=["en", "fr"])
    message = error(read_delimited, path, ",", "en", "de")
    assert f"{path}, row 1 (the header): no column 'de'" in message
    assert "['en', 'fr']" in message and "data.source.target_field" in message
    message = error(read_delimited, tmp_path / "a.csv", ",", 0, 5)
    assert "no column 5" in message and "indices 0 to 1" in message


def test_wrong_field_name_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"en": "a", "de": "b"}\n{"en": "a", "deu": "b"}\n')
    message = error(read_jsonl, path, "en", "de")
    assert f"{path}, line 2: no field 'de'" in message and "['deu', 'en']" in message
    path.write_text('{"en": "a", "de": "b"}\n{"en": "a", "de": \n')
    assert f"{path}, line 2, column 19: not valid JSON" in error(read_jsonl, path, "en", "de")


def test_empty_split(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [], header=["en", "de"])
    assert f"{path} has no rows" in error(read_delimited, path, ",", "en", "de")
    (tmp_path / "b.jsonl").write_text("\n")
    assert "has no rows" in error(read_jsonl, tmp_path / "b.jsonl", "en", "de")


def test_ragged_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("en,de\na,b\nc,d,e\n")
    message = error(read_delimited, path, ",", "en", "de")
    assert f"{path}, row 3 (line 3): 3 fields where the first row has 2" in message
    assert "quoted" in message


def test_mismatched_line_counts(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.de").write_text("eins\nzwei\n")
    message = error(read_text_pair, tmp_path / "a.en", tmp_path / "a.de")
    assert f"{tmp_path / 'a.de'} ends after line 2" in message and "line 3" in message


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.source.format"):
        detect_format(tmp_path / "corpus.txt")
