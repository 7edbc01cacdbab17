"""Raw corpora on disk: finding, downloading and reading them with errors that name file and line."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from encdec.errors import DataError

log = logging.getLogger(__name__)


def download(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Fetch `url` into `dest` atomically (a partial download never looks like a good file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    log.info("Downloading %s -> %s", url, dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as err:
        Path(tmp).unlink(missing_ok=True)
        raise DataError(
            f"Could not download {url} to {dest}: {err}. Check the network, or put the file "
            f"there yourself and point paths.data_dir (or ENCDEC_DATA_DIR) at its folder."
        ) from None


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
