"""Each built-in preset (data=multi30k, dialogsum, squad) equals the same files named by hand
through the generic sources (data=text_pairs, hf_pairs, squad_json): the same pairs in any format
encode exactly alike. Held-out splits; references; DialogSum's hub fallback through the same
`datasets.load_dataset` code path on local files."""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import pytest

from encdec.data.arrow import row_schema
from encdec.data.qa import QADataModule
from encdec.data.seq2seq import Seq2SeqDataModule
from encdec.data.sources import Files, Hub, QAFiles
from encdec.errors import ConfigError, DataError
from tests.support.own_data_files import (
    dialogsum_hub_folder,
    dialogsum_tables,
    multi30k_saved,
    multi30k_tables,
    preset,
)

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
OPTIONS = {"cache_dir": str(CACHE), "limit_train": 300, "tokenizer": {"vocab_size": 500}}


def TextPairsDataModule(  # noqa: N802 (stands for data=text_pairs)
    data_dir: str, splits=None, held_out_size=None, held_out_seed=0, group_references=False,
    added_tokens=None, max_len=100, **source,
):  # fmt: skip
    """data=text_pairs: files named by hand (Files with the whole path as the split)."""
    own = ("max_src_len", "max_tgt_len", *OPTIONS)
    options = {**OPTIONS, **{k: source.pop(k) for k in list(source) if k in own}}
    return Seq2SeqDataModule(
        Files(**source), data_dir, splits, held_out_size=held_out_size,
        held_out_seed=held_out_seed, group_references=group_references,
        added_tokens=added_tokens, max_len=max_len, **options,
    )  # fmt: skip


def HFPairsDataModule(  # noqa: N802 (stands for data=hf_pairs)
    data_dir: str, splits=None, held_out_size=None, group_references=False, **source
):  # fmt: skip
    """data=hf_pairs: a Hugging Face dataset named by hand."""
    options = {**OPTIONS, **{k: source.pop(k) for k in list(source) if k in OPTIONS}}
    splits = splits or {"train": "train", "val": "validation", "test": "test"}
    return Seq2SeqDataModule(
        Hub(**source), data_dir, splits, held_out_size=held_out_size,
        group_references=group_references, **options,
    )  # fmt: skip


def ready(dm):
    dm.prepare_data()
    dm.setup()
    return dm


def encoded(dm) -> dict:
    return {
        s: (ds.column("src_ids"), ds.column("tgt_ids"), ds.references)
        for s, ds in dm.datasets.items()
    }


@pytest.fixture(scope="module")
def files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("own")
    multi30k_tables(data_dir, out, "en", "fr")
    return out


@pytest.fixture(scope="module")
def builtin_en_fr(data_dir: Path) -> dict:
    dm = preset("multi30k", data_dir, CACHE, limit_train=300, tokenizer={"vocab_size": 500},
                source={"src_lang": "en", "tgt_lang": "fr"})  # fmt: skip
    return encoded(ready(dm))


@pytest.fixture(scope="module")
def builtin_en_de(data_dir: Path) -> dict:
    dm = preset("multi30k", data_dir, CACHE, limit_train=300, tokenizer={"vocab_size": 500})
    return encoded(ready(dm))


@pytest.mark.parametrize(
    "options",
    [
        {"format": "auto", "source_field": "en", "target_field": "fr", "ext": "tsv"},
        {"format": "auto", "ext": "csv"},  # no header: columns 0 and 1
        {"format": "csv", "source_field": 0, "target_field": 1, "ext": "csv"},
    ],
    ids=["tsv-header", "csv-no-header", "csv-indices"],
)
def test_tables_encode_as_the_builtin_loader(files: Path, builtin_en_fr: dict, options) -> None:
    ext = options.pop("ext")
    splits = {s: f"multi30k_enfr/{s}.{ext}" for s in ("train", "val", "test")}
    dm = ready(TextPairsDataModule(str(files), splits=splits, **options, **OPTIONS))
    assert encoded(dm) == builtin_en_fr


def test_plain_file_pairs_by_lang_pattern_and_by_list(data_dir: Path, builtin_en_de: dict) -> None:
    builtin = builtin_en_de
    splits = {
        "train": "multi30k/train.{lang}.gz",
        "val": ["multi30k/val.en.gz", "multi30k/val.de.gz"],
        "test": str(data_dir / "multi30k" / "test_2016_flickr.{lang}.gz"),  # absolute
    }
    dm = TextPairsDataModule(str(data_dir), splits=splits, src_lang="en", tgt_lang="de", **OPTIONS)
    assert encoded(ready(dm)) == builtin


def pairs(rows: datasets.Dataset) -> list[tuple[str, str]]:
    return list(zip(rows["src"][:], rows["tgt"][:], strict=True))


def test_held_out_splits_are_seeded_disjoint_and_logged(
    files: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def held(seed: int) -> TextPairsDataModule:
        return TextPairsDataModule(
            str(files),
            splits={"train": "multi30k_enfr/train.csv"},
            held_out_size=50,
            held_out_seed=seed,
            **OPTIONS,
        )

    with caplog.at_level(logging.INFO):
        dm = held(0)
        val, test, train = (pairs(dm.rows(s)) for s in ("val", "test", "train"))
    assert len(val) == len(test) == 50 and len(train) == 29_000 - 100
    assert not set(val) & set(test) and not set(val) & set(train)
    assert "val = 50 pairs held out of" in caplog.text and "data.held_out_seed=0" in caplog.text
    assert pairs(held(0).rows("val")) == val and pairs(held(1).rows("val")) != val
    whole = pairs(dm.read("multi30k_enfr/train.csv", row_schema(True)))
    assert train == [p for p in whole if p not in set(val + test)]  # the rest, in file order


def test_a_missing_split_says_how_to_provide_it(files: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.splits.val=.*data.held_out_size=1000"):
        TextPairsDataModule(str(files), splits={"train": "a.tsv", "test": "b.tsv"})
    with pytest.raises(ConfigError, match="data.splits.train is not set"):
        TextPairsDataModule(str(files), splits={})
    dm = TextPairsDataModule(
        str(files), splits={s: "nowhere.tsv" for s in ("train", "val", "test")}
    )
    with pytest.raises(DataError, match="not found.*nowhere.tsv"):
        dm.prepare_data()


def test_dialogsum_csv_encodes_as_the_builtin_loader(data_dir: Path, tmp_path: Path) -> None:
    """Test rows one per reference, grouped: the same examples and references as the jsonl."""
    dialogsum_tables(data_dir, tmp_path)
    common = {**OPTIONS, "max_src_len": 400, "max_tgt_len": 60}
    own = {k: v for k, v in common.items() if k != "cache_dir"}
    builtin = ready(preset("dialogsum", data_dir, CACHE, **own))
    splits = {"train": "train.csv", "val": "validation.csv", "test": "test.csv"}
    dm = TextPairsDataModule(
        str(tmp_path / "dialogsum_csv"),
        splits=splits,
        source_field="dialogue",
        target_field="summary",
        group_references=True,
        added_tokens="dialogsum",
        max_len=100_000,
        **common,
    )
    assert encoded(ready(dm)) == encoded(builtin)
    assert all(len(refs) == 3 for refs in dm.datasets["test"].references)


def test_hf_pairs_save_to_disk_with_nested_fields(
    data_dir: Path, tmp_path: Path, builtin_en_de: dict
) -> None:
    saved = multi30k_saved(data_dir, tmp_path)
    builtin = builtin_en_de
    dm = HFPairsDataModule(
        str(tmp_path),
        path=saved.name,  # relative to data_dir
        source_field="translation.en",
        target_field="translation.de",
        **OPTIONS,
    )
    assert encoded(ready(dm)) == builtin
    wrong = HFPairsDataModule(
        str(tmp_path), path=str(saved), source_field="translation.en", target_field="de", **OPTIONS
    )
    with pytest.raises(DataError, match=r"no field 'de'.*translation.de.*data.source.target_fie"):
        wrong.prepare_data()


def test_hf_pairs_by_name_through_load_dataset(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local folder loads through the same load_dataset call as a hub name, once a split."""
    folder = dialogsum_hub_folder(data_dir, tmp_path / "hub", limit=40)
    calls: list[str] = []
    load = datasets.load_dataset

    def counted(*args, split: str, **kwargs):
        calls.append(split)
        return load(*args, split=split, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", counted)
    dm = ready(
        HFPairsDataModule(
            str(tmp_path),
            name=str(folder),
            source_field="dialogue",
            target_field="summary",
            group_references=True,
            **OPTIONS,
        )
    )
    assert len(dm.datasets["test"]) == 40
    assert all(len(refs) == 3 for refs in dm.datasets["test"].references)
    assert sorted(calls) == ["test", "train", "validation"]


def test_dialogsum_falls_back_to_the_hub_copy(data_dir: Path, tmp_path: Path) -> None:
    """No local files: the default hub copy's layout (dialogue, one test row per reference)."""
    hub = dialogsum_hub_folder(data_dir, tmp_path / "hub", limit=40)
    common = {"limit_train": 300, "tokenizer": {"vocab_size": 500}}
    dm = preset("dialogsum", tmp_path, CACHE, source={"fallback": {"name": str(hub)}}, **common)
    ready(dm)
    local = ready(preset("dialogsum", data_dir, CACHE, **{**common, "limit_train": 40}))
    test = dm.datasets["test"]
    assert len(test) == 40 and test.references == local.datasets["test"].references[:40]
    assert test.column("src") == local.datasets["test"].column("src")[:40]


@pytest.mark.parametrize("task", ["translation", "summarization"])
@pytest.mark.parametrize("data", ["text_pairs", "hf_pairs"])
def test_configs_compose_for_both_seq2seq_tasks(task: str, data: str) -> None:
    from encdec import build
    from tests.support.helpers import compose_train

    with pytest.raises(ConfigError, match="data.splits.train|data.source needs a name"):
        build.check_config(compose_train([f"task={task}", f"data={data}"]))
    source = "data.splits.train=a.tsv" if data == "text_pairs" else "data.source.name=somewhere"
    cfg = compose_train(
        [f"task={task}", f"data={data}", source, "data.held_out_size=10", "model.copy=true"]
    )
    build.check_config(cfg)
    assert cfg.data.copy_oov  # the copy vocabulary follows the model


def test_hf_pairs_one_saved_dataset_is_the_training_split(tmp_path: Path) -> None:
    import datasets

    rows = {"src": [f"a {i}" for i in range(40)], "tgt": [f"b {i}" for i in range(40)]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "one"))
    common = {"path": "one", "source_field": "src", "target_field": "tgt", **OPTIONS}
    with pytest.raises(DataError, match="held_out_size"):
        HFPairsDataModule(str(tmp_path), **common).prepare_data()  # val: no split of its own
    splits = {"train": "train", "val": None, "test": None}
    dm = HFPairsDataModule(str(tmp_path), splits=splits, held_out_size=5, **common)
    assert [len(dm.rows(s)) for s in ("train", "val", "test")] == [30, 5, 5]


def test_hf_pairs_refuses_a_field_that_is_not_text(tmp_path: Path) -> None:
    rows = {"src": ["a", "b", "c"], "tgt": [["x"], ["y"], ["z"]], "refs": ["r", "s", "t"]}
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "bad"))
    common = {"path": "bad", "source_field": "src", "splits": {"train": "train"}, **OPTIONS}
    common["held_out_size"] = 1
    with pytest.raises(DataError, match=r"bad \[train\], row 1: field 'tgt' holds list"):
        HFPairsDataModule(str(tmp_path), target_field="tgt", **common).prepare_data()
    with pytest.raises(DataError, match=r"row 1: field 'refs' must be a non-empty list of texts"):
        HFPairsDataModule(
            str(tmp_path), target_field="src", references_field="refs", **common
        ).prepare_data()


def test_a_url_is_downloaded_into_the_data_folder_once(files: Path, tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(files))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/multi30k_enfr"
        splits = {s: f"{url}/{s}.csv" for s in ("train", "val", "test")}
        dm = TextPairsDataModule(str(tmp_path), splits=splits, **OPTIONS)
        assert len(dm.rows("val")) == 1014
        assert (tmp_path / "val.csv").read_bytes() == (files / "multi30k_enfr/val.csv").read_bytes()
    finally:
        server.shutdown()
    again = TextPairsDataModule(str(tmp_path), splits=splits, **OPTIONS)  # server gone: the copy
    assert pairs(again.rows("val")) == pairs(dm.rows("val"))


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    """A split is cached as Arrow by its file's name, size and time: an edit is not missed."""
    path = tmp_path / "pairs.tsv"
    splits = {s: "pairs.tsv" for s in ("train", "val", "test")}

    def rows() -> list[tuple[str, str]]:
        dm = TextPairsDataModule(str(tmp_path), splits=splits, cache_dir=str(tmp_path / "cache"))
        return pairs(dm.rows("train").select_columns(["src", "tgt"]))

    path.write_text("a dog\tein Hund\n")
    assert rows() == [("a dog", "ein Hund")] == rows()  # the second read from the cache
    path.write_text("a cat\tеine Katze\ntwo\tzwei\n")
    assert rows() == [("a cat", "еine Katze"), ("two", "zwei")]


def test_squad_preset_equals_its_files_named_by_hand(data_dir: Path, tmp_path: Path) -> None:
    """data=squad == data=squad_json with format=jsonl naming the same two files."""
    common = {"limit_train": 200, "limit_eval": 50, "tokenizer": {"vocab_size": 500}}
    builtin = ready(preset("squad", data_dir, CACHE, **common))
    folder = data_dir / "squad"
    by_hand = QADataModule(
        QAFiles(pattern="{split}", format="jsonl"),
        str(tmp_path),  # absolute paths: read where they are
        {"train": str(folder / "train.jsonl"), "val": str(folder / "validation.jsonl")},
        cache_dir=str(CACHE),
        **common,
    )
    ready(by_hand)
    assert by_hand.tokenizer.to_str() == builtin.tokenizer.to_str()
    for stage in ("train", "val", "test"):
        mine, theirs = by_hand.datasets[stage].table, builtin.datasets[stage].table
        assert mine.column_names == theirs.column_names
        assert all(mine[c].equals(theirs[c]) for c in mine.column_names), stage
