"""A user's own corpus through config alone: `data=text_pairs` (TSV, CSV, JSON lines, a pair of
plain text files; local paths or URLs) and `data=hf_pairs` (a Hugging Face dataset by name, a
local folder of data files, or a dataset saved with `save_to_disk`).

Both are TranslationDataModules: the tokenizer, the encoding, the length filters and the batches
are the built-in corpora's, so the same files give the same run whichever way they are named
(tests/data/test_pairs.py). They serve `task=translation` and `task=summarization` alike. What
they add: per-split sources named in `splits`, field mapping, a held-out slice of train for a
missing val / test split, and multi-reference val / test sets (a references field, or rows
grouped by source). The format readers are in encdec.data.formats.

A split is read once, row by row, into an Arrow file in the cache (keyed by the source's name,
size and modification time, the format and the fields) and memory-mapped from there; the
tokenizer, the cache keys and the encoding read it in batches, so memory stays bounded as the
corpus grows (encdec.data.arrow, bench/data_scaling.py).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import datasets
import numpy as np

from encdec.data.arrow import BATCH_ROWS, cached_rows, file_identity
from encdec.data.datamodule import (
    DIALOGSUM_TOKENS,
    TranslationDataModule,
    group_references,
    positive,
)
from encdec.data.formats import (
    FORMATS,
    Field,
    Row,
    as_references,
    as_text,
    detect_format,
    read_file,
    read_text_pair,
    require_file,
)
from encdec.data.sources import download
from encdec.data.tokenization import fingerprint
from encdec.errors import ConfigError, DataError

log = logging.getLogger(__name__)

STAGES = ("train", "val", "test")
#: Named sets of tokens the tokenizer keeps whole (`data.added_tokens=dialogsum`).
TOKEN_SETS = {"dialogsum": DIALOGSUM_TOKENS}


def token_list(added_tokens: str | Iterable[str] | None) -> list[str]:
    if added_tokens is None:
        return []
    if isinstance(added_tokens, str):
        if added_tokens not in TOKEN_SETS:
            raise ConfigError(
                f"data.added_tokens={added_tokens!r}: not a known set ({', '.join(TOKEN_SETS)}); "
                f"give a list instead, e.g. 'data.added_tokens=[<sep>,#Person1#]'."
            )
        return list(TOKEN_SETS[added_tokens])
    return [str(t) for t in added_tokens]


def as_field(value: Any) -> Field:
    """A config value as a field: None, a column index, or a name."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


class PairsDataModule(TranslationDataModule):
    """What `text_pairs` and `hf_pairs` share: reading each split once (`_read`, per subclass),
    held-out val / test slices of train, references, `limit_train`."""

    def __init__(
        self,
        data_dir: str,
        splits: dict[str, Any] | None = None,
        source_field: Field = None,
        target_field: Field = None,
        references_field: Field = None,
        group_references: bool = False,
        held_out_size: int | None = None,
        held_out_seed: int = 0,
        added_tokens: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        splits = dict(splits or {})
        unknown = sorted(set(splits) - set(STAGES))
        if unknown:
            raise ConfigError(f"data.splits.{unknown[0]}: the splits are {', '.join(STAGES)}.")
        if not splits.get("train"):
            raise ConfigError(
                "data.splits.train is not set: name the training file, e.g. "
                "data.splits.train=corpus/train.tsv (docs/own-data.md)."
            )
        positive(held_out_size=held_out_size, null=True)
        super().__init__(
            data_dir,
            splits={stage: splits.get(stage) for stage in STAGES},
            added_tokens=token_list(added_tokens),
            **kwargs,
        )
        self.fields = tuple(as_field(f) for f in (source_field, target_field, references_field))
        self.group = group_references
        self.held_out_size, self.held_out_seed = held_out_size, held_out_seed
        for stage in ("val", "test"):
            if self.splits[stage] is None and held_out_size is None:
                raise ConfigError(
                    f"data.splits.{stage} is not set: name a file (data.splits.{stage}=...), or "
                    f"hold out pairs of the training split (data.held_out_size=1000)."
                )
        self._rows: dict[str, datasets.Dataset] = {}

    # -- subclasses ----------------------------------------------------------------------------
    def _source_rows(self, stage: str) -> Iterator[Row]:
        """Every row of a configured split, read lazily (written to the Arrow cache once)."""
        raise NotImplementedError

    def _identity(self, stage: str) -> dict[str, Any]:
        """What the split's rows are read from (names, sizes, modification times): the key of
        their Arrow cache, so an edited file is read again."""
        raise NotImplementedError

    def _describe(self, stage: str) -> str:
        """The split's source, for messages."""
        return str(self.splits[stage])

    def _files(self, stage: str) -> tuple[str, ...]:  # what TranslationDataModule's errors name
        return (self._describe(stage),)

    # -- reading -------------------------------------------------------------------------------
    def _read(self, stage: str) -> datasets.Dataset:
        """A configured split's rows (columns src, tgt[, references]), memory-mapped from the
        cache; read from the source the first time."""
        identity = self._identity(stage)
        key = fingerprint([], rows=type(self).__name__, fields=self.fields, **identity)
        with_references = self.fields[2] is not None
        path = self.cache_dir / "rows" / f"{key}.arrow"
        return cached_rows(self._source_rows(stage), path, with_references)

    def _held_out(self) -> dict[str, datasets.Dataset]:
        """Train without its held-out rows, and the held-out val / test slices (seeded)."""
        rows = self._read("train")
        wanted = [s for s in ("val", "test") if self.splits[s] is None]
        size = self.held_out_size or 0
        if len(rows) <= size * len(wanted):
            raise DataError(
                f"{self._describe('train')} has {len(rows)} pairs, too few to hold out "
                f"{size} for each of {', '.join(wanted)}: lower data.held_out_size or name the "
                f"split's file (data.splits.{wanted[0]}=...)."
            )
        picked = random.Random(self.held_out_seed).sample(range(len(rows)), size * len(wanted))
        out: dict[str, datasets.Dataset] = {}
        for i, stage in enumerate(wanted):
            out[stage] = rows.select(sorted(picked[i * size : (i + 1) * size]))
            log.info(
                "data: %s = %d pairs held out of %s (data.held_out_size=%d, data.held_out_seed=%d)",
                stage,
                size,
                self._describe("train"),
                size,
                self.held_out_seed,
            )
        out["train"] = rows.select(np.setdiff1d(np.arange(len(rows)), picked))  # in file order
        return out

    def rows(self, stage: str) -> datasets.Dataset:
        if stage not in self._rows:
            if self.splits[stage] is None or (stage == "train" and self.held_out_size):
                if any(self.splits[s] is None for s in ("val", "test")):
                    self._rows.update(self._held_out())
                else:
                    self._rows["train"] = self._read("train")
            else:
                self._rows[stage] = self._read(stage)
        return self._rows[stage]

    def split_text(self, stage: str) -> datasets.Dataset:
        if stage in self._text:
            return self._text[stage]
        text = self._limited(stage, self.rows(stage))
        if stage != "train" and self.fields[2] is not None:
            refs, targets = text["references"][:], text["tgt"][:]
            self.references[stage] = [list(r or [t]) for r, t in zip(refs, targets, strict=True)]
        elif stage != "train" and self.group:  # one row per reference -> one per source
            src, self.references[stage] = group_references(text["src"][:], text["tgt"][:])
            tgt = [refs[0] for refs in self.references[stage]]
            text = datasets.Dataset.from_dict({"src": src, "tgt": tgt})
        self._text[stage] = text
        return text

    def prepare_data(self) -> None:
        for stage in STAGES:
            if self.splits[stage] is not None:
                self.rows(stage)  # read (and download) now: a bad file fails before training
        self._load_tokenizer()


class TextPairsDataModule(PairsDataModule):
    """`data=text_pairs`: per split a TSV, CSV or JSON-lines file, or a pair of plain text files
    (a path holding `{lang}`, filled with `src_lang` / `tgt_lang`, or a list of two paths).

    Relative paths are read from `data_dir`; `http(s)://` URLs are downloaded into `data_dir` once
    (verified as encdec.data.sources.download does). `format: auto` goes by the file name.
    """

    def __init__(
        self,
        data_dir: str,
        splits: dict[str, Any] | None = None,
        format: str = "auto",  # noqa: A002 (the config's name)
        header: bool | None = None,
        src_lang: str = "src",
        tgt_lang: str = "tgt",
        **kwargs: Any,
    ) -> None:
        if format != "auto" and format not in FORMATS:
            raise ConfigError(f"data.format={format!r}: auto or one of {', '.join(FORMATS)}.")
        super().__init__(data_dir, splits=splits, src_lang=src_lang, tgt_lang=tgt_lang, **kwargs)
        self.format, self.header = format, header

    def _sources(self, stage: str) -> list[str]:
        """The split's path(s) or URL(s): one file, or the source and target plain files."""
        spec = self.splits[stage]
        if isinstance(spec, str) and "{lang}" in spec:
            return [spec.format(lang=lang) for lang in (self.src_lang, self.tgt_lang)]
        if isinstance(spec, str):
            return [spec]
        spec = list(spec)
        if len(spec) != 2 or not all(isinstance(p, str) for p in spec):
            raise ConfigError(
                f"data.splits.{stage}={spec}: a file, a path with {{lang}}, or a list of two "
                f"plain text files [source, target]."
            )
        return spec

    def _local(self, source: str) -> Path:
        """A path under data_dir (or absolute); a URL downloaded into data_dir once."""
        if source.startswith(("http://", "https://")):
            dest = self.data_dir / Path(urlparse(source).path).name
            if not dest.is_file():
                download(source, dest)
            return dest
        path = Path(source).expanduser()
        return path if path.is_absolute() else self.data_dir / path

    def _describe(self, stage: str) -> str:
        if self.splits[stage] is None:
            return f"held out of {self._describe('train')}"
        return " + ".join(
            str(self._local(s)) if "://" not in s else s for s in self._sources(stage)
        )

    def _paths(self, stage: str) -> list[Path]:
        paths = [self._local(s) for s in self._sources(stage)]
        for path in paths:
            require_file(path)
        return paths

    def _identity(self, stage: str) -> dict[str, Any]:
        files = [file_identity(p) for p in self._paths(stage)]
        return {"files": files, "format": self.format, "header": self.header}

    def _source_rows(self, stage: str) -> Iterator[Row]:
        sources = self._paths(stage)
        if len(sources) == 2:
            return read_text_pair(*sources)
        (path,) = sources
        fmt = detect_format(path) if self.format == "auto" else self.format
        if fmt == "text":
            raise DataError(
                f"data.splits.{stage}={self.splits[stage]}: plain text needs two files: a "
                f"path with {{lang}} (e.g. train.{{lang}}.gz) or a list [source, target]."
            )
        return read_file(path, fmt, *self.fields, header=self.header)


class HFPairsDataModule(PairsDataModule):
    """`data=hf_pairs`: a Hugging Face dataset, by hub name and config (`datasets.load_dataset`,
    e.g. wmt16 de-en; a local folder of data files works the same way), or saved with
    `save_to_disk` (`path`, read with `datasets.load_from_disk`). `splits` name the dataset's
    splits; the fields are column names, dotted for nested ones (`translation.de`)."""

    def __init__(
        self,
        data_dir: str,
        name: str | None = None,
        config_name: str | None = None,
        path: str | None = None,
        splits: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not name and not path:
            raise ConfigError(
                "data=hf_pairs needs data.name (a hub dataset, e.g. wmt16 with "
                "data.config_name=de-en) or data.path (a folder written by save_to_disk)."
            )
        splits = splits or {"train": "train", "val": "validation", "test": "test"}
        super().__init__(data_dir, splits=splits, **kwargs)
        self.name, self.config_name = name, config_name
        self.path = None if path is None else Path(path).expanduser()
        if self.path is not None and not self.path.is_absolute():
            self.path = self.data_dir / self.path
        self._dataset: Any = None  # what load_from_disk read: a Dataset or a DatasetDict
        self._loaded: dict[str, datasets.Dataset] = {}

    def _describe(self, stage: str) -> str:
        where = (
            str(self.path) if self.path else " ".join(filter(None, [self.name, self.config_name]))
        )
        split = self.splits[stage]
        return f"{where} [{split}]" if split else f"held out of {self._describe('train')}"

    def _split(self, stage: str) -> datasets.Dataset:
        """The stage's split, loaded once (its cache key and its rows both read it; a hub
        `load_dataset` may ask the network each time)."""
        if stage not in self._loaded:
            self._loaded[stage] = self._load_split(stage)
        return self._loaded[stage]

    def _load_split(self, stage: str) -> datasets.Dataset:
        split = str(self.splits[stage])
        datasets.disable_progress_bars()
        if self.path is not None:
            if self._dataset is None:
                try:
                    self._dataset = datasets.load_from_disk(str(self.path))
                except FileNotFoundError as err:
                    raise DataError(
                        f"data.path={self.path}: not a dataset written by save_to_disk ({err})."
                    ) from None
            if isinstance(self._dataset, datasets.Dataset):  # one split saved: the training one
                if stage != "train":
                    raise DataError(
                        f"{self.path} holds one split (a Dataset, not a DatasetDict): it is the "
                        f"training split; set data.splits.{stage}=null data.held_out_size=1000 "
                        f"to hold out {stage} pairs of it."
                    )
                return self._dataset
            if split not in self._dataset:
                raise DataError(
                    f"{self.path} has no split {split!r} (it has {list(self._dataset)}): set "
                    f"data.splits.{stage} to one of them."
                )
            return self._dataset[split]
        try:
            return datasets.load_dataset(
                self.name, self.config_name, split=split, cache_dir=str(self.cache_dir / "hf")
            )
        except ValueError as err:  # an unknown split or config: the message lists the known ones
            raise DataError(f"{self._describe(stage)}: {err}") from None
        except (ConnectionError, FileNotFoundError, OSError) as err:
            raise DataError(
                f"Could not load the dataset {self._describe(stage)} ({err}). Check the name and "
                f"the network, or save it with save_to_disk and set data.path=<folder>."
            ) from None

    def _identity(self, stage: str) -> dict[str, Any]:
        ds = self._split(stage)
        files = [file_identity(f["filename"]) for f in ds.cache_files]
        return {"dataset": ds._fingerprint, "files": files, "split": str(self.splits[stage])}

    def _source_rows(self, stage: str) -> Iterator[Row]:
        ds = self._split(stage)
        fields = self.fields
        if fields[0] is None or fields[1] is None:
            raise DataError(
                f"{self._describe(stage)}: set data.source_field and data.target_field (its "
                f"columns: {ds.column_names}; nested ones dotted, e.g. translation.de)."
            )
        names = [str(f) for f in fields if f is not None]
        flat = ds.flatten() if any("." in n and n not in ds.column_names for n in names) else ds
        for role, name in zip(("source", "target", "references"), names, strict=False):
            if name not in flat.column_names:
                raise DataError(
                    f"{self._describe(stage)}: no field {name!r} (its fields: "
                    f"{flat.column_names}). Set data.{role}_field to one of them."
                )
        if not len(flat):
            raise DataError(f"{self._describe(stage)} has no rows: every split needs a pair.")
        return self._rows_of(flat.select_columns(names), names, self._describe(stage))

    @staticmethod
    def _rows_of(table: datasets.Dataset, names: list[str], where: str) -> Iterator[Row]:
        """The rows of a hub split, each field checked as a file's are (text, or a list of
        texts for the references)."""
        number = 0
        for batch in table.iter(batch_size=BATCH_ROWS):
            columns = [batch[n] for n in names]
            for values in zip(*columns, strict=True):
                number += 1
                row = f"row {number}"
                source, target = (
                    as_text(v, where, row, n) for v, n in zip(values[:2], names[:2], strict=True)
                )
                refs = as_references(values[2], where, row, names[2]) if len(names) > 2 else None
                yield Row(source, target, refs)
