"""Input and output lines of predict.py: files or stdin read as bytes (decoded line by line by
encdec.inference.inputs), outputs written and flushed batch by batch, warnings that name the line.
An output that cannot be written (a full disk, a closed pipe) ends predict.py with one line naming
it; what was written before stays."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from omegaconf import DictConfig

from encdec.errors import ConfigError
from encdec.inference import inputs

log = logging.getLogger("encdec.cli.predict")


class OutputError(ConfigError):
    """The output cannot be written any more (a full disk, a closed pipe)."""


class Output:
    """Where the output lines go (a UTF-8 file or stdout), each batch flushed when written."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream, self.name = stream, name

    def write(self, lines: Iterable[str]) -> None:
        try:
            self.stream.write(b"".join(f"{inputs.one_line(t)}\n".encode() for t in lines))
            self.stream.flush()
        except OSError as err:  # ENOSPC, EPIPE (BrokenPipeError), EIO...
            raise OutputError(
                f"{self.name}: cannot write the predictions ({err.strerror or err}); the lines "
                f"written before this batch are kept. Free some space or write elsewhere "
                f"(output=FILE)."
            ) from None


def _abandon(stream: IO[bytes]) -> None:
    """Drop what could not be written, so closing the stream (or the interpreter flushing
    stdout at exit) does not fail again with a traceback."""
    if stream is sys.stdout.buffer:  # Python flushes sys.stdout once more at exit
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
        return
    try:
        stream.close()
    except OSError:
        pass


@contextmanager
def open_output(path: str | None) -> Iterator[Output]:
    if path is None:
        try:
            yield Output(sys.stdout.buffer, "stdout")
        except OutputError:
            _abandon(sys.stdout.buffer)
            raise
        return
    try:
        stream = open(path, "wb")  # noqa: SIM115
    except OSError as err:
        raise ConfigError(
            f"output={path}: cannot write it ({err.strerror}). Give a file in an existing, "
            f"writable folder."
        ) from None
    try:
        yield Output(stream, f"output={path}")
    except OutputError:
        _abandon(stream)
        raise
    try:
        stream.close()
    except OSError as err:
        raise OutputError(
            f"output={path}: cannot write the predictions ({err.strerror})."
        ) from None


def open_input(cfg: DictConfig, what: str) -> IO[bytes]:
    """`input=FILE` opened for reading bytes; ConfigError (exit 1) when it cannot be read."""
    path = Path(str(cfg.input))
    if not path.exists() or path.is_dir():  # a file, or a named pipe / device (/dev/stdin)
        raise FileNotFoundError(f"input={cfg.input}: no such file. Give {what}.")
    if cfg.get("output") is not None and same_file(Path(str(cfg.output)), path):
        raise ConfigError(
            f"output={cfg.output} is the input file: writing it would erase the input. Give "
            f"another output file."
        )
    try:
        return path.open("rb")
    except OSError as err:
        raise ConfigError(f"input={cfg.input}: cannot read it ({err.strerror}).") from None


def same_file(a: Path, b: Path) -> bool:
    """The same file by path (symbolic links resolved) or by identity (a hard link: same device
    and inode)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # the output does not exist yet
        return False


def stdin_lines() -> Iterator[bytes]:
    """Lines typed by the user (with a prompt on stderr when stdin is a terminal), as bytes."""
    interactive = sys.stdin.isatty()
    stream = sys.stdin.buffer
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = next(inputs.read_lines(stream), None)
        if line is None:
            return
        yield line


def warner(where: str) -> Callable[[int, str], None]:
    """warn(line number, message): one line on stderr, `<where>, line N: message`."""

    def warn(number: int, message: str) -> None:
        log.warning("%s, line %d: %s", where, number, message)

    return warn
