"""Raw data in, each way written once: UTF-8 lines (gzip-aware), JSON lines, Hugging Face datasets
(hub name, folder of data files, save_to_disk) with their errors as one line, and http(s)
downloads. Every path is resolved and must lie in the folder it belongs to (`confined`): a data
file under the data folder (or an absolute path the user gave), a download in the data folder.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import datasets

from encdec.errors import DataError
from encdec.files import atomic_open

log = logging.getLogger(__name__)

URL_SCHEMES = ("http", "https")


def is_url(spec: str) -> bool:
    """A source written as a URL (any scheme: the ones not allowed are refused, not read as paths)."""
    return "://" in spec


def confined(path: str | Path, folder: Path, option: str) -> Path:
    """`path` resolved (symlinks and `..` followed); one relative to `folder` must stay in it."""
    given = Path(path).expanduser()
    resolved = (folder / given).resolve()
    if not given.is_absolute() and not resolved.is_relative_to(folder.resolve()):
        raise DataError(
            f"{option}={str(path)!r} leads out of its folder {folder} (to {resolved}): name a "
            f"file inside it, or give an absolute path on the command line."
        )
    return resolved


def local_file(spec: str, data_dir: Path, option: str) -> Path:
    """The file `spec` names: a path (relative to `data_dir`, or absolute), or an http(s) URL
    downloaded once into `data_dir`."""
    if not is_url(spec):
        return confined(spec, data_dir, option)
    dest = confined(Path(urlparse(spec).path).name or "download", data_dir, option)
    if dest.parent != data_dir.resolve():
        raise DataError(f"{option}={spec!r}: the URL names no file to save in {data_dir}.")
    if not dest.is_file():
        download(spec, dest)
    return dest


class _HttpRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects stay on http(s): never to ftp:// or file://."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        if urlparse(newurl).scheme not in URL_SCHEMES:
            raise DataError(f"{req.full_url} redirects to {newurl}: only http(s) is followed.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> None:
    """Fetch an http(s) `url` to `dest`, by way of a temporary name beside it: a partial or wrong
    download never looks like a good file. Refused (DataError, nothing left at `dest`): another
    URL scheme, fewer or more bytes than the Content-Length, a SHA-256 other than `sha256`."""
    if urlparse(url).scheme not in URL_SCHEMES:
        raise DataError(f"{url}: only http:// and https:// URLs are downloaded.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("Downloading %s -> %s", url, dest)
    fix = (
        "Check the network, or put the file there yourself and point paths.data_dir (or "
        "ENCDEC_DATA_DIR) at its folder."
    )
    opener = urllib.request.build_opener(_HttpRedirects)
    try:
        with atomic_open(dest, "wb") as out, opener.open(url, timeout=timeout) as resp:
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


def require_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"Data file not found: {path}. Check data.splits / paths.data_dir.")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text with its newline) of a UTF-8 file, optionally gzipped; a line that is
    not UTF-8 or a corrupt gzip stream is a DataError naming the line."""
    require_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    number = 0
    try:
        with opener(path, "rb") as f:
            for number, raw in enumerate(f, start=1):  # noqa: B007 (read after the loop)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DataError(
                        f"{path}, line {number}: not valid UTF-8 ({err.reason} at byte "
                        f"{err.start} of the line). Re-encode the file as UTF-8, e.g. iconv -f "
                        f"latin1 -t utf-8 {path.name} > fixed.{path.name}."
                    ) from None
                if number == 1:
                    text = text.removeprefix("\ufeff")  # a byte-order mark (Excel's CSV)
                yield number, text
    except (gzip.BadGzipFile, EOFError, OSError) as err:
        raise DataError(
            f"{path}, after line {number}: the file is corrupt or truncated ({err}). Replace it "
            f"with a good copy (a downloaded one: delete it to download it again)."
        ) from None


def read_lines(path: Path) -> list[str]:
    """Every line of a UTF-8 text file (optionally gzipped), without its newline."""
    return [text.rstrip("\r\n") for _, text in numbered_lines(path)]


def json_lines(path: Path, hint: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of a JSON-lines file; `hint` ends the
    message of a line that is not JSON."""
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}, line {number}, column {err.colno}: not valid JSON ({err.msg}). {hint}"
            ) from None


def read_json(path: Path, hint: str) -> Any:
    """One JSON document (optionally gzipped)."""
    text = "".join(line for _, line in numbered_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}, line {err.lineno}, column {err.colno}: not valid JSON ({err.msg}). {hint}"
        ) from None


def load_hub(
    name: str, config_name: str | None, split: str | None, cache_dir: Path, fix: str
) -> Any:
    """`datasets.load_dataset` (a hub name or a local folder of data files): a Dataset (one
    split) or a DatasetDict; any failure is one DataError ending in `fix`."""
    datasets.disable_progress_bars()
    where = " ".join(filter(None, [name, config_name, f"[{split}]" if split else None]))
    try:
        return datasets.load_dataset(
            name, config_name, split=split, cache_dir=str(cache_dir / "hf")
        )
    except Exception as err:  # no network, unknown name / split / config: one clear message
        raise DataError(
            f"The dataset {where} could not be loaded ({type(err).__name__}: {err}). {fix}"
        ) from None


def load_saved(path: Path) -> Any:
    """A folder written by `save_to_disk`: a Dataset or a DatasetDict."""
    datasets.disable_progress_bars()
    try:
        return datasets.load_from_disk(str(path))
    except FileNotFoundError as err:
        raise DataError(
            f"data.source.path={path}: not a dataset saved by save_to_disk ({err})."
        ) from None
