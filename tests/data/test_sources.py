"""The file source on the real Multi30k (data=multi30k): its download from a local server, the
datamodule's splits, cache and tokenizer, and misaligned files named in the error."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from encdec.errors import DataError
from tests.support.own_data_files import preset

EN_DE_FILES = [
    f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr") for lang in ("en", "de")
]


def multi30k(parent: Path, cache: Path, **options):
    """data=multi30k on <parent>/multi30k, 300 training pairs and a 400-word vocabulary."""
    options = {"limit_train": 300, "tokenizer": {"vocab_size": 400}, **options}
    return preset("multi30k", parent, cache, **options)


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return path


def test_missing_folder_without_url(tmp_path: Path) -> None:
    dm = multi30k(tmp_path / "absent", tmp_path / "c", source={"download_url": None})
    with pytest.raises(DataError, match="absent/multi30k does not exist.*ENCDEC_DATA_DIR"):
        dm.prepare_data()


def test_download_from_http(tmp_path: Path, data_dir: Path, http_server: str) -> None:
    """The preset's download URL and checksums, served from 127.0.0.1."""
    target = tmp_path / "multi30k"
    dm = multi30k(tmp_path, tmp_path / "cache", source={"download_url": f"{http_server}/multi30k/"})
    dm.prepare_data()
    assert sorted(p.name for p in target.iterdir()) == sorted(EN_DE_FILES)  # nothing left over
    for name in EN_DE_FILES:
        assert (target / name).read_bytes() == (data_dir / "multi30k" / name).read_bytes(), name
    assert dm.tokenizer is not None and dm.tokenizer_path.is_file()
    # A second prepare_data finds the files and downloads nothing.
    mtimes = {name: (target / name).stat().st_mtime_ns for name in EN_DE_FILES}
    gone = {"download_url": f"{http_server}/does-not-exist/"}
    multi30k(tmp_path, tmp_path / "cache", source=gone).prepare_data()
    assert mtimes == {name: (target / name).stat().st_mtime_ns for name in EN_DE_FILES}


def test_a_file_other_than_the_published_one_is_refused(
    tmp_path: Path, data_dir: Path, http_server: str
) -> None:
    """fr served under the de names: the preset's SHA-256 refuses it; nothing is kept."""
    served = tmp_path / "served" / "multi30k"
    served.mkdir(parents=True)
    for name in EN_DE_FILES:
        swapped = name.replace(".de.", ".fr.")
        served.joinpath(name).write_bytes((data_dir / "multi30k" / swapped).read_bytes())
    from tests.data.conftest import serving

    with serving(tmp_path / "served") as url:
        dm = multi30k(tmp_path / "data", tmp_path / "c", source={"download_url": f"{url}/multi30k"})
        with pytest.raises(DataError, match=r"train.de.gz.*SHA-256"):
            dm.prepare_data()
    assert not (tmp_path / "data" / "multi30k" / "train.de.gz").exists()


def test_download_404_is_a_data_error(tmp_path: Path, http_server: str) -> None:
    dm = multi30k(tmp_path, tmp_path / "c", source={"download_url": f"{http_server}/no-such/"})
    with pytest.raises(DataError, match="Could not download") as err:
        dm.prepare_data()
    assert "404" in str(err.value) and "no-such" in str(err.value)
    assert not any(p.name.endswith(".gz") for p in (tmp_path / "multi30k").iterdir())


def test_datamodule_on_real_data(tmp_path: Path, data_dir: Path) -> None:
    def build(vocab_size: int = 400):
        dm = multi30k(data_dir, tmp_path / "cache", tokenizer={"vocab_size": vocab_size})
        dm.prepare_data()
        return dm

    dm = build()
    dm.setup("fit")
    sizes = {name: len(ds) for name, ds in dm.datasets.items()}
    assert sizes == {"train": 300, "val": 1014, "test": 1000}
    assert dm.special_ids == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert dm.vocab_size_actual == 400

    # Detokenization restores the exact sentence (BLEU is computed on detokenized text).
    tok, val = dm.tokenizer, dm.datasets["val"]
    for sentence in val.column("src")[:50]:
        encoding = tok.encode(sentence, add_special_tokens=False)
        assert dm.special_ids["unk"] not in encoding.ids, sentence
        assert tok.decode(encoding.ids) == sentence
    # German too, where the training sentences cover the characters.
    alphabet = set("".join(dm.training_texts()))
    covered = [s for s in val.column("tgt")[:50] if set(s) <= alphabet]
    assert len(covered) >= 45
    for sentence in covered:
        assert tok.decode(tok.encode(sentence, add_special_tokens=False).ids) == sentence
    assert val[0].src_ids == tok.encode(val[0].src_text, add_special_tokens=False).ids

    # Same settings: the tokenizer comes from the cache (the file is not rewritten).
    path = dm.tokenizer_path
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    again = build()
    assert again.tokenizer_path == path
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert again.tokenizer.get_vocab() == tok.get_vocab()
    other = build(450)  # other settings: another tokenizer
    assert other.tokenizer_path != path and other.vocab_size_actual == 450


def test_misaligned_train_files(tmp_path: Path) -> None:
    folder = tmp_path / "multi30k"
    folder.mkdir()
    sentences = [f"a small sentence number {i}" for i in range(20)]
    for split in ("train", "val", "test_2016_flickr"):
        write_gz(folder / f"{split}.en.gz", sentences)
        write_gz(folder / f"{split}.de.gz", sentences[:-1] if split == "train" else sentences)
    dm = multi30k(tmp_path, tmp_path / "cache", source={"download_url": None})
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "train.en.gz" in message and "train.de.gz" in message
    assert "after line 19" in message and "goes on (line 20)" in message
    assert not list((tmp_path / "cache").glob("rows/*.arrow"))  # nothing half-cached
