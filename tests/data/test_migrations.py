"""Saved data configs of format version 2 (five datamodule classes, flat tokenizer keys) become
today's (two datamodules fed by sources, a tokenizer node): the legacy checkpoints' data nodes
build the same datamodule as today's presets, and the other old classes map option by option."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from encdec import build, trust
from encdec.data.migrations import upgrade_v3
from encdec.data.qa import QADataModule
from encdec.data.seq2seq import Seq2SeqDataModule
from encdec.data.sources import Files, Hub, QAFiles
from tests.support.helpers import compose_train

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"


def saved_data(name: str) -> dict:
    return torch.load(LEGACY / f"{name}.ckpt", weights_only=True)["encdec"]["config"]["data"]


def same_as_preset(new: dict, task: str) -> None:
    """The upgraded node names what today's preset of that corpus names."""
    preset = compose_train([f"task={task}"]).data
    assert new["_target_"] == preset._target_ and new["splits"] == dict(preset.splits)
    source = {k: v for k, v in new["source"].items() if v is not None}
    wanted = {
        k: v
        for k, v in preset.source.items()
        if v is not None and k not in ("download_url", "checksums", "fallback")
    }
    assert {k: source.get(k) for k in wanted} == wanted


@pytest.mark.parametrize(
    ("name", "task", "kind"),
    [
        ("translation_lstm_bahdanau", "translation", Seq2SeqDataModule),
        ("summarization_copy_coverage", "summarization", Seq2SeqDataModule),
        ("qa", "qa", QADataModule),
    ],
)
def test_legacy_data_nodes_become_the_presets(
    name: str, task: str, kind: type, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", "/work/shared/data")
    old = saved_data(name)
    new = upgrade_v3({"data": old})["data"]
    same_as_preset(new, task)
    assert new["tokenizer"]["vocab_size"] == 500 and new["limit_train"] == 300
    assert "download_url" not in new["source"]  # a saved file never chooses what is fetched
    dm = build.build_datamodule(OmegaConf.create(new))
    assert type(dm) is kind
    assert trust.allowed_target(old["_target_"])  # the old name passes the allowlist, unbuilt


def test_dialogsum_defaults_and_hub_fallback() -> None:
    old = {
        "_target_": "encdec.data.datamodule.DialogSumDataModule",
        "data_dir": "/d",
        "hub_name": "h",
    }
    new = upgrade_v3({"data": old})["data"]
    dm = build.build_datamodule(OmegaConf.create(new))
    assert isinstance(dm.source, Files) and isinstance(dm.source.fallback, Hub)
    assert dm.source.fallback.name == "h" and dm.source.fallback.fields[:2] == (
        "dialogue",
        "summary",
    )
    assert dm.added_tokens[0] == "#Person1#" and dm.max_len == 100_000 and dm.group


def test_own_data_classes_map_option_by_option() -> None:
    pairs = {
        "_target_": "encdec.data.pairs.TextPairsDataModule",
        "data_dir": "/d",
        "splits": {"train": "a.tsv", "val": None, "test": "t.tsv"},
        "format": "tsv",
        "source_field": "en",
        "target_field": 1,
        "held_out_size": 10,
        "tokenizer_type": "word",
        "vocab_size": 900,
    }
    dm = build.build_datamodule(OmegaConf.create(upgrade_v3({"data": pairs})["data"]))
    assert dm.source.format == "tsv" and dm.source.fields == ("en", 1, None)
    assert dm.tokenizer_settings.kind == "word" and dm.tokenizer_settings.vocab_size == 900
    assert dm.splits == pairs["splits"] and dm.held_out_size == 10
    hub = {"_target_": "encdec.data.pairs.HFPairsDataModule", "data_dir": "/d", "name": "wmt16",
           "config_name": "de-en", "source_field": "translation.en", "target_field": "translation.de"}  # fmt: skip
    dm = build.build_datamodule(OmegaConf.create(upgrade_v3({"data": hub})["data"]))
    assert (dm.source.name, dm.source.config_name) == ("wmt16", "de-en")
    assert dm.splits == {"train": "train", "val": "validation", "test": "test"}
    squad = {"_target_": "encdec.data.squad.SquadDataModule", "data_dir": "/d", "hub_name": None,
             "files": {"train": "x.json", "val": "y.json", "test": None}, "format": "squad_json"}  # fmt: skip
    dm = build.build_datamodule(OmegaConf.create(upgrade_v3({"data": squad})["data"]))
    assert isinstance(dm.source, QAFiles) and dm.source.format == "squad_json"
    assert dm.splits == {"train": "x.json", "val": "y.json", "test": "y.json"}
    assert dm.source.fallback is None and dm.tokenizer_settings.kind == "lower_word"


def test_a_node_in_todays_layout_is_left_as_it_is() -> None:
    today = {"data": {"_target_": "encdec.data.seq2seq.Seq2SeqDataModule", "x": 1}}
    assert upgrade_v3(today) == today
