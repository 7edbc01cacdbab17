"""Raw data: reading (plain / gzip), errors that name file and line, downloading, the datamodule."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from encdec.data.datamodule import TranslationDataModule
from encdec.data.sources import (
    MULTI30K_SHA256,
    DataError,
    download,
    ensure_files,
    known_sha256,
    read_lines,
    read_parallel,
)

EN_DE_FILES = [
    f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr") for lang in ("en", "de")
]


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return path


# -- read_lines / read_parallel ---------------------------------------------------------------


def test_read_lines_plain_and_gzip(tmp_path: Path) -> None:
    lines = ["Ein Hund läuft.", "  leading and trailing spaces  ", "", "x\ty", "€ — ✓"]
    plain = tmp_path / "a.txt"
    plain.write_bytes("".join(line + "\n" for line in lines).encode())
    assert read_lines(plain) == lines
    assert read_lines(write_gz(tmp_path / "a.txt.gz", lines)) == lines
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"one\r\ntwo\r\nthree")  # Windows line ends, no final newline
    assert read_lines(crlf) == ["one", "two", "three"]


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.en"
    path.write_bytes(b"good line\nanother good line\nbad \xff\xfe byte\nfine again\n")
    with pytest.raises(DataError, match="line 3") as err:
        read_lines(path)
    assert "bad.en" in str(err.value)
    gz = tmp_path / "bad.de.gz"
    with gzip.open(gz, "wb") as f:
        f.write(b"ok\nok\n\xc3\x28 invalid\n")
    with pytest.raises(DataError, match="line 3") as err:
        read_lines(gz)
    assert "bad.de.gz" in str(err.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    full = write_gz(
        tmp_path / "full.gz", [f"sentence number {i} with some words" for i in range(5000)]
    )
    data = full.read_bytes()
    cut = tmp_path / "truncated.en.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated") as err:
        read_lines(cut)
    assert "truncated.en.gz" in str(err.value)


def test_not_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plain_text_named.gz"
    path.write_bytes(b"this is not gzip data\n")
    with pytest.raises(DataError) as err:
        read_lines(path)
    assert "plain_text_named.gz" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ENCDEC_DATA_DIR") as err:
        read_lines(tmp_path / "nowhere.gz")
    assert "nowhere.gz" in str(err.value)


def test_read_parallel(tmp_path: Path) -> None:
    src = write_gz(tmp_path / "x.en.gz", ["a", "b", "c"])
    tgt = write_gz(tmp_path / "x.de.gz", ["A", "B", "C"])
    assert read_parallel(src, tgt) == (["a", "b", "c"], ["A", "B", "C"])


def test_read_parallel_mismatched_counts(tmp_path: Path) -> None:
    src = write_gz(tmp_path / "train.en.gz", ["a", "b", "c", "d"])
    tgt = write_gz(tmp_path / "train.de.gz", ["A", "B", "C"])
    with pytest.raises(DataError) as err:
        read_parallel(src, tgt)
    message = str(err.value)
    assert "train.en.gz" in message and "train.de.gz" in message
    assert "4 lines" in message and "has 3" in message


@pytest.mark.parametrize("gzipped", [False, True])
def test_read_parallel_empty_files(tmp_path: Path, gzipped: bool) -> None:
    if gzipped:
        src, tgt = write_gz(tmp_path / "e.en.gz", []), write_gz(tmp_path / "e.de.gz", [])
    else:
        src, tgt = tmp_path / "e.en", tmp_path / "e.de"
        src.write_bytes(b"")
        tgt.write_bytes(b"")
    with pytest.raises(DataError, match="empty") as err:
        read_parallel(src, tgt)
    assert src.name in str(err.value)


# -- ensure_files / download -----------------------------------------------------------------


def test_ensure_files_missing_without_url(tmp_path: Path) -> None:
    (tmp_path / "here.gz").write_bytes(b"")
    ensure_files(tmp_path, ["here.gz"], None)  # nothing missing: no error
    with pytest.raises(DataError, match="ENCDEC_DATA_DIR") as err:
        ensure_files(tmp_path, ["here.gz", "gone.gz"], None)
    assert "gone.gz" in str(err.value) and "here.gz" not in str(err.value)


def test_datamodule_missing_folder_without_url(tmp_path: Path) -> None:
    dm = TranslationDataModule(data_dir=str(tmp_path / "absent"), cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match="ENCDEC_DATA_DIR"):
        dm.prepare_data()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@contextlib.contextmanager
def serving(folder: Path, handler: type[SimpleHTTPRequestHandler]) -> Iterator[str]:
    """A local HTTP server over `folder` with `handler`, on a free port; yields its base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_server(data_dir: Path) -> Iterator[str]:
    """A local HTTP server over the real data folder; yields its base URL."""
    with serving(data_dir, _QuietHandler) as url:
        yield url


def test_download_from_http(tmp_path: Path, data_dir: Path, http_server: str) -> None:
    target = tmp_path / "multi30k"
    dm = TranslationDataModule(
        data_dir=str(target),
        download_url=f"{http_server}/multi30k/",
        cache_dir=str(tmp_path / "cache"),
        limit_train=500,
        vocab_size=500,
    )
    dm.prepare_data()
    assert sorted(p.name for p in target.iterdir()) == sorted(EN_DE_FILES)  # no .part left over
    for name in EN_DE_FILES:
        assert (target / name).read_bytes() == (data_dir / "multi30k" / name).read_bytes(), name
    assert dm.tokenizer is not None and dm.tokenizer_path.is_file()
    # A second prepare_data finds the files and downloads nothing.
    mtimes = {name: (target / name).stat().st_mtime_ns for name in EN_DE_FILES}
    TranslationDataModule(
        data_dir=str(target),
        download_url=f"{http_server}/does-not-exist/",
        cache_dir=str(tmp_path / "cache"),
        limit_train=500,
        vocab_size=500,
    ).prepare_data()
    assert mtimes == {name: (target / name).stat().st_mtime_ns for name in EN_DE_FILES}


def test_download_404_is_a_data_error(tmp_path: Path, http_server: str) -> None:
    target = tmp_path / "multi30k"
    dm = TranslationDataModule(
        data_dir=str(target),
        download_url=f"{http_server}/no-such-folder/",
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(DataError, match="Could not download") as err:
        dm.prepare_data()
    assert "404" in str(err.value) and "no-such-folder" in str(err.value)
    assert not any(p.name.endswith(".gz") or ".part" in p.name for p in target.iterdir())


# -- TranslationDataModule on the real corpus -------------------------------------------------


def test_datamodule_on_real_data(tmp_path: Path, data_dir: Path) -> None:
    settings = dict(
        data_dir=str(data_dir / "multi30k"),
        cache_dir=str(tmp_path / "cache"),
        limit_train=300,
        vocab_size=400,
    )
    dm = TranslationDataModule(**settings)
    dm.prepare_data()
    dm.setup("fit")
    assert {name: len(ds) for name, ds in dm.datasets.items()} == {
        "train": 300,
        "val": 1014,
        "test": 1000,
    }
    assert dm.special_ids == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert dm.vocab_size_actual == 400

    # Detokenization restores the exact sentence (BLEU is computed on detokenized text).
    tok, val = dm.tokenizer, dm.datasets["val"]
    for sentence in val.column("src")[:50]:
        encoding = tok.encode(sentence, add_special_tokens=False)
        assert dm.special_ids["unk"] not in encoding.ids, sentence
        assert tok.decode(encoding.ids) == sentence
    # German too, where the 300 training sentences cover the characters ('Q' in "Quad" does not
    # occur in them: an unseen character can only be <unk>).
    alphabet = set("".join(dm.training_texts()))
    covered = [s for s in val.column("tgt")[:50] if set(s) <= alphabet]
    assert len(covered) >= 45
    for sentence in covered:
        assert tok.decode(tok.encode(sentence, add_special_tokens=False).ids) == sentence
    # The stored ids are those of the text.
    assert val[0].src_ids == tok.encode(val[0].src_text, add_special_tokens=False).ids

    # Same settings: the tokenizer comes from the cache (the file is not rewritten).
    path = dm.tokenizer_path
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    again = TranslationDataModule(**settings)
    again.prepare_data()
    assert again.tokenizer_path == path
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert again.tokenizer.get_vocab() == tok.get_vocab()
    # Other settings: another tokenizer.
    other = TranslationDataModule(**{**settings, "vocab_size": 450})
    other.prepare_data()
    assert other.tokenizer_path != path and other.vocab_size_actual == 450


def test_misaligned_train_files(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    sentences = [f"a small sentence number {i}" for i in range(20)]
    for split in ("train", "val", "test_2016_flickr"):
        write_gz(folder / f"{split}.en.gz", sentences)
        write_gz(folder / f"{split}.de.gz", sentences[:-1] if split == "train" else sentences)
    dm = TranslationDataModule(
        data_dir=str(folder), cache_dir=str(tmp_path / "cache"), vocab_size=100
    )
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "train.en.gz" in message and "train.de.gz" in message
    assert "20 lines" in message and "has 19" in message
    with pytest.raises(DataError, match="train.de.gz"):
        TranslationDataModule(
            data_dir=str(folder), cache_dir=str(tmp_path / "cache"), vocab_size=100
        ).setup("fit")


# -- verified downloads: Content-Length, checksums, no partial file on any failure ------------


class _TruncatingHandler(_QuietHandler):
    """Announces the whole file's length but sends only its first 1,000 bytes, then hangs up."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:1000])
        self.close_connection = True


@pytest.fixture
def truncating_server(data_dir: Path) -> Iterator[str]:
    with serving(data_dir, _TruncatingHandler) as url:
        yield url


def test_a_download_that_ends_early_is_refused(tmp_path: Path, truncating_server: str) -> None:
    url = f"{truncating_server}/multi30k/val.en.gz"
    with pytest.raises(DataError) as err:
        download(url, tmp_path / "val.en.gz")
    message = str(err.value)
    assert url in message and "1000" in message and "21650" in message  # received / expected
    assert list(tmp_path.iterdir()) == []


def test_multi30k_downloads_are_checked_against_known_checksums(
    tmp_path: Path, data_dir: Path, http_server: str
) -> None:
    assert known_sha256(f"{http_server}/multi30k/val.de.gz") == MULTI30K_SHA256["val.de.gz"]
    assert known_sha256(f"{http_server}/elsewhere/val.de.gz") is None
    # A good file: accepted (and checked against the known SHA-256 of a Multi30k file).
    download(f"{http_server}/multi30k/val.de.gz", tmp_path / "val.de.gz")
    assert (tmp_path / "val.de.gz").read_bytes() == (data_dir / "multi30k/val.de.gz").read_bytes()
    # Another file served under a Multi30k name: refused, nothing written.
    with pytest.raises(DataError, match="SHA-256") as err:
        download(f"{http_server}/multi30k/val.en.gz", tmp_path / "x" / "a.gz", sha256="0" * 64)
    assert "val.en.gz" in str(err.value) and "0" * 64 in str(err.value)
    assert list((tmp_path / "x").iterdir()) == []
    # The table's own entry for another file: refused too.
    bad = f"{http_server}/multi30k/val.en.gz"
    with pytest.raises(DataError, match="SHA-256"):
        download(bad, tmp_path / "y" / "b.gz", sha256=MULTI30K_SHA256["val.de.gz"])
    assert list((tmp_path / "y").iterdir()) == []
    # Every known checksum is that of the real file (the table matches the shared data).
    for name, digest in MULTI30K_SHA256.items():
        assert hashlib.sha256((data_dir / "multi30k" / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("error", [KeyboardInterrupt, ValueError, OSError])
def test_any_failure_mid_download_leaves_no_partial_file(
    tmp_path: Path, http_server: str, monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    import hashlib as hashlib_module

    real = hashlib_module.sha256

    class Failing:  # fails after the first chunk has been written to the temporary file
        def __init__(self) -> None:
            self.inner, self.calls = real(), 0

        def update(self, data: bytes) -> None:
            self.calls += 1
            if self.calls == 2:
                raise error("mid-download")
            self.inner.update(data)

    monkeypatch.setattr("encdec.data.sources.hashlib.sha256", Failing)
    expected = DataError if error is not KeyboardInterrupt else KeyboardInterrupt
    with pytest.raises(expected):
        download(f"{http_server}/multi30k/train.en.gz", tmp_path / "train.en.gz")
    assert list(tmp_path.iterdir()) == []
