"""Saved configs of format version 2 -> 3, data node: the five datamodule classes of before
(TranslationDataModule, DialogSumDataModule, TextPairsDataModule, HFPairsDataModule,
SquadDataModule) become the two of today (Seq2SeqDataModule, QADataModule), each fed by a source
(encdec.data.sources); tokenizer_type / vocab_size / min_frequency become the `tokenizer` node.
Plain dict surgery: nothing is built. A saved download URL is dropped (a file never chooses what
is fetched); a missing file is then named with the fix."""

from __future__ import annotations

import copy
from typing import Any

OLD = "encdec.data."
SEQ2SEQ, QA = "encdec.data.seq2seq.Seq2SeqDataModule", "encdec.data.qa.QADataModule"
FILES, HUB, QA_FILES = (f"encdec.data.sources.{c}" for c in ("Files", "Hub", "QAFiles"))
#: Options every old datamodule took, kept as they are (the rest become source options).
KEPT = (
    "data_dir cache_dir max_tokens max_len max_src_len max_tgt_len added_tokens group_references "
    "held_out_size held_out_seed limit_train num_workers seed copy_oov max_passage_len "
    "window_stride long_passages eval_max_passage_len max_question_len limit_eval"
).split()
FIELDS = ("source_field", "target_field", "references_field")


def _tokenizer(old: dict[str, Any], kind: str, vocab_size: int, min_frequency: int) -> dict:
    return {
        "kind": old.get("tokenizer_type", kind),
        "vocab_size": old.get("vocab_size", vocab_size),
        "min_frequency": old.get("min_frequency", min_frequency),
    }


def _hub(name: str | None, **fields: Any) -> dict[str, Any] | None:
    return {"_target_": HUB, "name": name, **fields} if name else None


def upgrade_data(old: dict[str, Any]) -> dict[str, Any]:
    """One version-2 `data` node in today's layout (a node already in it is returned as is)."""
    kind = str(old.get("_target_", "")).removeprefix(OLD)
    new: dict[str, Any] = {k: old[k] for k in KEPT if k in old}
    new["_target_"] = SEQ2SEQ
    new["tokenizer"] = _tokenizer(old, "bpe", 8000, 2)
    fields = {f: old.get(f) for f in FIELDS}
    if kind == "datamodule.TranslationDataModule":
        new["splits"] = old.get("splits") or {
            "train": "train",
            "val": "val",
            "test": "test_2016_flickr",
        }
        new["source"] = {
            "_target_": FILES,
            "pattern": old.get("file_pattern", "{split}.{lang}.gz"),
            "src_lang": old.get("src_lang", "en"),
            "tgt_lang": old.get("tgt_lang", "de"),
        }
    elif kind == "datamodule.DialogSumDataModule":
        new["splits"] = old.get("splits") or {"train": "train", "val": "validation", "test": "test"}
        hub_fields = {"source_field": old.get("hub_document_field", "dialogue")}
        hub_fields["target_field"] = old.get("hub_summary_field", "summary")
        new["source"] = {
            "_target_": FILES,
            "pattern": old.get("file_pattern", "{split}.jsonl"),
            "format": "jsonl",
            "source_field": old.get("document_field", "document"),
            "target_field": old.get("summary_field", "summary"),
            "references_field": old.get("references_field", "references"),
            "fallback": _hub(old.get("hub_name"), **hub_fields),
        }
        added = old.get("added_tokens")
        new["added_tokens"] = "dialogsum" if added is None else added
        new.setdefault("max_len", 100_000)
        new["group_references"] = True
    elif kind == "pairs.TextPairsDataModule":
        new["splits"] = old.get("splits")
        new["source"] = {
            "_target_": FILES,
            **fields,
            **{k: old[k] for k in ("format", "header", "src_lang", "tgt_lang") if k in old},
        }
    elif kind == "pairs.HFPairsDataModule":
        new["splits"] = old.get("splits") or {"train": "train", "val": "validation", "test": "test"}
        where = {k: old.get(k) for k in ("name", "config_name", "path")}
        new["source"] = {"_target_": HUB, **where, **fields}
    elif kind == "squad.SquadDataModule":
        new["_target_"] = QA
        new["tokenizer"] = _tokenizer(old, "lower_word", 30000, 1)
        new["tokenizer"]["kind"] = "lower_word"
        files = {k: v for k, v in (old.get("files") or {}).items() if v}
        source: dict[str, Any] = {"_target_": QA_FILES, "format": old.get("format", "jsonl")}
        if files:
            source["pattern"] = "{split}"
            new["splits"] = {s: files.get(s) for s in ("train", "val", "test")}
        else:
            source["pattern"] = old.get("file_pattern", "{split}.jsonl")
            default = {"train": "train", "val": "validation", "test": "validation"}
            new["splits"] = old.get("splits") or default
        source["fields"] = old.get("fields")
        source["fallback"] = None if files else _hub(old.get("hub_name", "squad"))
        new["source"] = source
    else:
        return old
    return new


def upgrade_v3(config: dict[str, Any]) -> dict[str, Any]:
    """A version-2 saved config with its `data` node in the version-3 layout."""
    config = copy.deepcopy(config)
    if isinstance(config.get("data"), dict):
        config["data"] = upgrade_data(config["data"])
    return config
