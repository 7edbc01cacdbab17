"""Raw data in: reading (plain / gzip) with errors that name file and line; downloads (http(s)
only, Content-Length and checksum checked, a temporary name in the data folder); every path
confined to its folder ("no file appears outside the scratch folder")."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from encdec.data.readers import confined, download, local_file, read_lines
from encdec.data.sources import Files, QAFiles
from encdec.errors import DataError
from tests.data.conftest import QuietHandler, serving

MULTI30K_SHA256 = yaml.safe_load(
    (Path(__file__).parents[2] / "conf" / "data" / "multi30k.yaml").read_text()
)["source"]["checksums"]
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
    with pytest.raises(DataError, match="paths.data_dir") as err:
        read_lines(tmp_path / "nowhere.gz")
    assert "nowhere.gz" in str(err.value)


# -- verified downloads: Content-Length, checksums, no partial file on any failure ------------


class _TruncatingHandler(QuietHandler):
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
    # A good file: accepted (checked against the known SHA-256 of the Multi30k file).
    download(
        f"{http_server}/multi30k/val.de.gz", tmp_path / "val.de.gz", MULTI30K_SHA256["val.de.gz"]
    )
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

    monkeypatch.setattr("encdec.data.readers.hashlib.sha256", Failing)
    expected = DataError if error is not KeyboardInterrupt else KeyboardInterrupt
    with pytest.raises(expected):
        download(f"{http_server}/multi30k/train.en.gz", tmp_path / "train.en.gz")
    assert list(tmp_path.iterdir()) == []


# -- only http(s); every path inside its folder ------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x.gz", "data:,hello", "gopher://a/b"]
)
def test_only_http_urls_are_downloaded(tmp_path: Path, url: str) -> None:
    with pytest.raises(DataError, match="only http:// and https://"):
        download(url, tmp_path / "x.gz")
    if "://" in url:  # written as a URL: never read as a path
        with pytest.raises(DataError, match="only http:// and https://"):
            local_file(url, tmp_path, "data.splits.train")
    assert list(tmp_path.iterdir()) == []


class _RedirectHandler(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.send_response(302)
        self.send_header("Location", "ftp://127.0.0.1/etc/passwd")
        self.end_headers()


def test_a_redirect_away_from_http_is_refused(tmp_path: Path) -> None:
    with serving(tmp_path, _RedirectHandler) as url:
        with pytest.raises(DataError, match="redirects to ftp://127.0.0.1/etc/passwd"):
            download(f"{url}/a.gz", tmp_path / "data" / "a.gz")
    assert not (tmp_path / "data" / "a.gz").exists()


@pytest.mark.parametrize(
    "spec", ["../outside.tsv", "sub/../../outside.tsv", "../scratch_sibling/x.tsv"]
)
def test_relative_paths_stay_in_the_data_folder(tmp_path: Path, spec: str) -> None:
    data = tmp_path / "scratch" / "data"
    data.mkdir(parents=True)
    (tmp_path / "outside.tsv").write_text("a\tb\n")
    with pytest.raises(DataError, match=r"data.splits.*leads out of its folder"):
        confined(spec, data, "data.splits")
    assert confined("corpus/train.tsv", data, "x") == data.resolve() / "corpus" / "train.tsv"
    assert confined("/abs/train.tsv", data, "x") == Path("/abs/train.tsv")  # the user's own


def test_a_symlink_out_of_the_data_folder_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.tsv").write_text("a\tb\n")
    (data / "link.tsv").symlink_to(tmp_path / "secret.tsv")
    with pytest.raises(DataError, match="leads out of its folder"):
        Files().open("link.tsv", data, tmp_path / "cache")


def test_downloads_never_land_outside_the_data_folder(
    tmp_path: Path, http_folder: tuple[str, Path]
) -> None:
    """Crafted names: `..` in the split, in the pattern, in a URL's path: refused, and no file
    appears outside the scratch folder (the download or its temporary file)."""
    url, served = http_folder
    (served / "x.gz").write_bytes(b"payload")
    scratch = tmp_path / "scratch"
    data = scratch / "data"
    data.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    attempts = [
        (Files(pattern="{split}", download_url=url), "../../x.gz"),
        (Files(pattern="../{split}.gz", download_url=url), "x"),
        (Files(pattern="{split}.{lang}.gz", download_url=url, src_lang="../../../x"), "a"),
        (Files(), f"{url}/.."),
        (QAFiles(pattern="{split}"), "../../site-packages/evil.pth"),
    ]
    for source, split in attempts:
        with pytest.raises(DataError, match="out of its folder|names no file|not found"):
            source.open(split, data, scratch / "cache")
    assert set(tmp_path.rglob("*")) - before <= set(scratch.rglob("*"))
    assert list(data.iterdir()) == []


def test_a_download_goes_to_a_temporary_name_in_the_data_folder(
    tmp_path: Path, http_folder: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, served = http_folder
    (served / "train.tsv").write_text("a\tb\n")
    data = tmp_path / "data"
    seen: list[Path] = []
    real_replace = os.replace

    def watched(src: str, dst: str) -> None:
        seen.append(Path(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watched)
    path = local_file(f"{url}/train.tsv", data, "data.splits.train")
    assert path == data.resolve() / "train.tsv" and path.read_text() == "a\tb\n"
    assert [p.parent for p in seen] == [data] and seen[0].name.startswith(".train.tsv.")
