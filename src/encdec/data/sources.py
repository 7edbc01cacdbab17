"""Raw corpora on disk: finding, downloading and reading them with errors that name file and line."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path

from encdec.errors import DataError
from encdec.files import atomic_open

log = logging.getLogger(__name__)

#: SHA-256 of the raw Multi30k Task 1 files (github.com/multi30k/dataset, data/task1/raw/, commit
#: a3d2e0d), by file name: a download from a URL naming multi30k must match.
MULTI30K_SHA256 = {
    "test_2016_flickr.cs.gz": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "train.cs.gz": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "val.cs.gz": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
}


def known_sha256(url: str) -> str | None:
    """The SHA-256 a download from `url` must have, when it is a known corpus file."""
    if "multi30k" not in url.lower():
        return None
    return MULTI30K_SHA256.get(url.rstrip("/").rsplit("/", 1)[-1])


def download(url: str, dest: Path, timeout: float = 60.0, sha256: str | None = None) -> None:
    """Fetch `url` into `dest` atomically (a partial download never looks like a good file).

    Refused (DataError, nothing left at `dest`): fewer bytes than the server's Content-Length,
    or a SHA-256 other than `sha256` (default: the known one of a Multi30k file, else unchecked).
    Any failure, Ctrl-C included, removes the partial file.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    sha256 = sha256 or known_sha256(url)
    log.info("Downloading %s -> %s", url, dest)
    fix = (
        "Check the network, or put the file there yourself and point paths.data_dir (or "
        "ENCDEC_DATA_DIR) at its folder."
    )
    try:
        with atomic_open(dest, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected = resp.headers.get("Content-Length")
            digest, received = hashlib.sha256(), 0
            while chunk := resp.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
            if expected is not None and received != int(expected):
                raise DataError(
                    f"Download of {url} ended early: {received} of {expected} bytes received "
                    f"(Content-Length). Nothing was written to {dest}; try again. {fix}"
                )
            if sha256 and digest.hexdigest() != sha256.lower():
                raise DataError(
                    f"Download of {url} ({received} bytes) has SHA-256 {digest.hexdigest()}, not "
                    f"the expected {sha256}: a corrupted or different file. Nothing was written "
                    f"to {dest}. {fix}"
                )
    except DataError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise DataError(f"Could not download {url} to {dest}: {err}. {fix}") from None


def ensure_files(folder: Path, names: list[str], base_url: str | None) -> None:
    """Make sure every file in `names` exists in `folder`, downloading the missing ones."""
    missing = [n for n in names if not (folder / n).is_file()]
    if not missing:
        return
    if not base_url:
        raise DataError(
            f"Missing data files in {folder}: {', '.join(missing)}. Set ENCDEC_DATA_DIR (or "
            f"paths.data_dir=...) to the folder that holds them, or set data.download_url to "
            f"fetch them."
        )
    for name in missing:
        download(base_url.rstrip("/") + "/" + name, folder / name)


def read_lines(path: Path) -> list[str]:
    """Read a UTF-8 text file (optionally gzipped), one item per line, without the newline."""
    if not path.is_file():
        raise DataError(f"Data file not found: {path}. Check paths.data_dir / ENCDEC_DATA_DIR.")
    opener = gzip.open if path.suffix == ".gz" else open
    lines: list[str] = []
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                try:
                    lines.append(raw.decode("utf-8").rstrip("\r\n"))
                except UnicodeDecodeError as err:
                    raise DataError(
                        f"{path}, line {number}: not valid UTF-8 ({err.reason} at byte "
                        f"{err.start}). Re-encode the file as UTF-8 (e.g. with iconv)."
                    ) from None
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(
            f"{path}, after line {len(lines)}: the file is corrupt or truncated ({err}). "
            f"Delete it to download it again, or replace it with a good copy."
        ) from None
    return lines


def read_parallel(src_path: Path, tgt_path: Path) -> tuple[list[str], list[str]]:
    """Read aligned source/target files; line i of one must translate line i of the other."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise DataError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: parallel files must "
            f"have one sentence per line, aligned. The first line past the shorter file is line "
            f"{min(len(src), len(tgt)) + 1}."
        )
    if not src:
        raise DataError(f"{src_path} is empty: every split needs at least one sentence pair.")
    return src, tgt
