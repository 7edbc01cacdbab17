"""Where a datamodule's rows come from (`data.source`): files in any supported format or URL
(`Files`), a Hugging Face dataset by hub name or `save_to_disk` folder (`Hub`), SQuAD-style
question files (`QAFiles`). The built-in corpora are presets of these (conf/data/*.yaml).

A source opens one split by the name `data.splits` gives it and returns a `Split`: what to call
it in messages, what identifies its content (names, sizes, times: the key of its Arrow cache)
and its rows, read lazily. The datamodule writes the rows to the Arrow cache once
(encdec.data.arrow); a source holds no data itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from encdec.data.arrow import BATCH_ROWS, file_identity
from encdec.data.formats import (
    FORMATS,
    Field,
    Row,
    as_references,
    as_text,
    detect_format,
    read_file,
    read_text_pair,
)
from encdec.data.qa_files import DEFAULT_FIELDS, QA_FORMATS, read_qa_file
from encdec.data.readers import (
    download,
    is_url,
    load_hub,
    load_saved,
    local_file,
    require_file,
)
from encdec.errors import ConfigError, DataError

#: A split as `data.splits` names it: a split name, a file (path or URL, `{lang}` for a pair of
#: plain text files), or a list [source file, target file].
SplitSpec = str | Sequence[str]


class Split(NamedTuple):
    where: str  # for messages
    identity: dict[str, Any]  # the key of its Arrow cache
    rows: Callable[[], Iterator[Any]]  # Rows (text pairs) or QA_COLUMNS tuples (questions)


class Hub:
    """A Hugging Face dataset: by hub name and config (`datasets.load_dataset`; a local folder
    of data files works the same way), or a folder written by `save_to_disk` (`path`, relative
    to data_dir). Fields are column names, dotted for nested ones (`translation.de`); without
    them the rows are the dataset's own (QA: the hub's `squad` layout)."""

    def __init__(
        self,
        name: str | None = None,
        config_name: str | None = None,
        path: str | None = None,
        source_field: str | None = None,
        target_field: str | None = None,
        references_field: str | None = None,
    ) -> None:
        if not name and not path:
            raise ConfigError(
                "data.source needs a name (a hub dataset, e.g. data.source.name=wmt16 with "
                "data.source.config_name=de-en) or a path (a folder written by save_to_disk)."
            )
        self.name, self.config_name, self.path = name, config_name, path
        self.fields = (source_field, target_field, references_field)
        self._loaded: dict[str, Any] = {}  # split -> Dataset (a hub load may ask the network)

    def _describe(self, split: str) -> str:
        return f"{self.path or ' '.join(filter(None, [self.name, self.config_name]))} [{split}]"

    def dataset(self, split: str, data_dir: Path, cache_dir: Path) -> Any:
        """The split as a `datasets.Dataset`, loaded once."""
        if split in self._loaded:
            return self._loaded[split]
        if self.path is not None:
            saved = load_saved(local_file(self.path, data_dir, "data.source.path"))
            if not hasattr(saved, "keys"):  # one split saved: the training one
                if split != "train":
                    raise DataError(
                        f"{self.path} holds one split (a Dataset, not a DatasetDict): it is the "
                        f"training split; set data.splits.val=null data.splits.test=null "
                        f"data.held_out_size=1000 to hold out pairs of it."
                    )
                ds = saved
            elif split not in saved:
                raise DataError(
                    f"{self.path} has no split {split!r} (it has {list(saved)}): set "
                    f"data.splits to its splits."
                )
            else:
                ds = saved[split]
        else:
            fix = (
                "Check the name, the split and the network, or save it with save_to_disk and "
                "set data.source.path=<folder>."
            )
            ds = load_hub(str(self.name), self.config_name, split, cache_dir, fix)
        self._loaded[split] = ds
        return ds

    def open(self, split: SplitSpec, data_dir: Path, cache_dir: Path) -> Split:
        split = str(split)
        ds = self.dataset(split, data_dir, cache_dir)
        where = self._describe(split)
        identity = {
            "dataset": ds._fingerprint,
            "files": [file_identity(f["filename"]) for f in ds.cache_files],
            "split": split,
            "fields": self.fields,
        }
        if self.fields == (None, None, None) and set(QA_COLUMNS) <= set(ds.column_names):
            return Split(where, identity, lambda: qa_hub_rows(ds, where))  # QA: its own columns
        return Split(where, identity, lambda: self._pairs(ds, where))

    def _pairs(self, ds: Any, where: str) -> Iterator[Row]:
        """The rows of a split, each field checked as a file's are (text, or a list of texts for
        the references)."""
        if self.fields[1] is None:
            raise DataError(
                f"{where}: set data.source.source_field and data.source.target_field (its "
                f"columns: {ds.column_names}; nested ones dotted, e.g. translation.de)."
            )
        names = [str(f) for f in self.fields if f is not None]
        flat = ds.flatten() if any("." in n and n not in ds.column_names for n in names) else ds
        for role, name in zip(("source", "target", "references"), names, strict=False):
            if name not in flat.column_names:
                raise DataError(
                    f"{where}: no field {name!r} (its fields: {flat.column_names}). Set "
                    f"data.source.{role}_field to one of them."
                )
        if not len(flat):
            raise DataError(f"{where} has no rows: every split needs a pair.")
        number = 0
        for batch in flat.select_columns(names).iter(batch_size=BATCH_ROWS):
            for values in zip(*(batch[n] for n in names), strict=True):
                number += 1
                row = f"row {number}"
                src, tgt = (
                    as_text(v, where, row, n) for v, n in zip(values, names[:2], strict=False)
                )
                refs = as_references(values[2], where, row, names[2]) if len(names) > 2 else None
                yield Row(src, tgt, refs)


class Files:
    """Files under data_dir (or absolute paths, or http(s) URLs downloaded into data_dir once):
    per split a TSV, CSV or JSON-lines file, or a pair of plain text files (a name holding
    `{lang}`, filled with `src_lang` / `tgt_lang`, or a list of two). A split's file is
    `pattern` with `{split}` filled in. `download_url`: missing files are fetched from there
    (their SHA-256 checked against `checksums` by file name where given); `fallback`: a split
    whose files are missing is read from this Hugging Face dataset instead.
    """

    def __init__(
        self,
        pattern: str = "{split}",
        format: str = "auto",  # noqa: A002 (the config's name)
        source_field: Field = None,
        target_field: Field = None,
        references_field: Field = None,
        header: bool | None = None,
        src_lang: str = "src",
        tgt_lang: str = "tgt",
        download_url: str | None = None,
        checksums: Mapping[str, str] | None = None,
        fallback: Hub | None = None,
    ) -> None:
        if format != "auto" and format not in FORMATS:
            raise ConfigError(
                f"data.source.format={format!r}: auto or one of {', '.join(FORMATS)}."
            )
        self.pattern, self.format, self.header = pattern, format, header
        source, target, refs = (
            f if f is None or isinstance(f, int) and not isinstance(f, bool) else str(f)
            for f in (source_field, target_field, references_field)
        )
        self.fields: tuple[Field, Field, Field] = (source, target, refs)
        self.langs = (src_lang, tgt_lang)
        self.download_url, self.checksums = download_url, dict(checksums or {})
        self.fallback = fallback

    def specs(self, split: SplitSpec) -> list[str]:
        """The split's path(s) or URL(s): one file, or the source and target plain files."""
        if isinstance(split, str):
            name = self.pattern.format(split=split, lang="{lang}")
            return [name.format(lang=lang) for lang in self.langs] if "{lang}" in name else [name]
        specs = list(split)
        if len(specs) != 2 or not all(isinstance(p, str) for p in specs):
            raise ConfigError(
                f"data.splits: {specs} is not a file, a path with {{lang}}, or a list of two "
                f"plain text files [source, target]."
            )
        return specs

    def _path(self, spec: str, data_dir: Path) -> Path:
        """A file of the split on this machine, downloaded if it is missing and can be."""
        path = local_file(spec, data_dir, "data.splits")
        if not path.is_file() and self.download_url and not is_url(spec):
            download(self.download_url.rstrip("/") + "/" + spec, path, self.checksums.get(spec))
        if not path.is_file() and not data_dir.is_dir():
            raise DataError(
                f"Data folder {data_dir} does not exist. Set ENCDEC_DATA_DIR (or "
                f"paths.data_dir=...) to the folder holding the corpus."
            )
        require_file(path)
        return path

    def open(self, split: SplitSpec, data_dir: Path, cache_dir: Path) -> Split:
        specs = self.specs(split)
        local = [local_file(s, data_dir, "data.splits") for s in specs if not is_url(s)]
        if self.fallback is not None and isinstance(split, str):
            if not all(p.is_file() for p in local):
                return self.fallback.open(split, data_dir, cache_dir)
        paths = [self._path(s, data_dir) for s in specs]
        where = " + ".join(map(str, paths))
        identity: dict[str, Any] = {"files": [file_identity(p) for p in paths]}
        identity.update(format=self.format, header=self.header, fields=self.fields)
        if len(paths) == 2:
            return Split(where, identity, lambda: read_text_pair(*paths))
        fmt = detect_format(paths[0]) if self.format == "auto" else self.format
        if fmt == "text":
            raise DataError(
                f"data.splits: {split} is plain text, which needs two files: a path with "
                f"{{lang}} (e.g. train.{{lang}}.gz) or a list [source, target]."
            )
        source, target, refs = self.fields
        return Split(
            where, identity, lambda: read_file(paths[0], fmt, source, target, refs, self.header)
        )


#: A question's columns, in the layout of the hub's `squad` dataset.
QA_COLUMNS = ("id", "title", "context", "question", "answers")


def qa_hub_rows(ds: Any, where: str) -> Iterator[tuple]:
    for batch in ds.select_columns(list(QA_COLUMNS)).iter(batch_size=BATCH_ROWS):
        yield from zip(*(batch[c] for c in QA_COLUMNS), strict=True)


class QAFiles:
    """Question files, one per split: `pattern` with `{split}` filled in, or the split's own
    file; a path under data_dir, an absolute path, or an http(s) URL downloaded into data_dir
    once. `format`: jsonl (one question a line, field names mapped by `fields`) or squad_json
    (the official nested SQuAD v1.1 JSON); encdec.data.qa_files reads both. `fallback`: a
    split whose file is missing is read from this Hugging Face dataset (the hub's squad)."""

    def __init__(
        self,
        pattern: str = "{split}.jsonl",
        format: str = "jsonl",  # noqa: A002 (the config's name)
        fields: Mapping[str, str] | None = None,
        fallback: Hub | None = None,
    ) -> None:
        if format not in QA_FORMATS:
            raise ConfigError(
                f"data.source.format={format!r}: choose one of {', '.join(QA_FORMATS)}."
            )
        unknown = sorted(set(fields or {}) - set(DEFAULT_FIELDS))
        if unknown:
            raise ConfigError(
                f"data.source.fields.{unknown[0]}: not a field role; the roles are "
                f"{', '.join(DEFAULT_FIELDS)}."
            )
        self.pattern, self.format = pattern, format
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self.fallback = fallback

    def open(self, split: SplitSpec, data_dir: Path, cache_dir: Path) -> Split:
        spec = self.pattern.format(split=split)
        path = local_file(spec, data_dir, "data.splits")
        if not path.is_file():
            if self.fallback is not None:
                return self.fallback.open(split, data_dir, cache_dir)
            raise DataError(
                f"QA data file not found: {path}. Check data.splits (a path or an http(s) URL) "
                f"or paths.data_dir / ENCDEC_DATA_DIR, or set a hub fallback "
                f"(data.source.fallback.name=squad)."
            )
        identity = {"files": [file_identity(path)], "format": self.format, "fields": self.fields}

        def rows() -> Iterator[tuple]:
            for row in read_qa_file(path, self.format, self.fields):
                yield tuple(row[c] for c in QA_COLUMNS)

        return Split(str(path), identity, rows)
