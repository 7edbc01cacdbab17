"""Input and output lines of predict.py: files or stdin read as bytes (decoded line by line by
encdec.inputs), outputs written and flushed batch by batch, warnings that name the line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from omegaconf import DictConfig

from encdec import inputs
from encdec.errors import ConfigError

log = logging.getLogger("encdec.cli.predict")


class Output:
    """Where the output lines go (a UTF-8 file or stdout), each batch flushed when written."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write(self, lines: Iterable[str]) -> None:
        self.stream.write(b"".join(f"{inputs.one_line(t)}\n".encode() for t in lines))
        self.stream.flush()


@contextmanager
def open_output(path: str | None) -> Iterator[Output]:
    if path is None:
        yield Output(sys.stdout.buffer)
        return
    try:
        stream = open(path, "wb")  # noqa: SIM115
    except OSError as err:
        raise ConfigError(
            f"output={path}: cannot write it ({err.strerror}). Give a file in an existing, "
            f"writable folder."
        ) from None
    with stream:
        yield Output(stream)


def open_input(cfg: DictConfig, what: str) -> IO[bytes]:
    """`input=FILE` opened for reading bytes; ConfigError (exit 1) when it cannot be read."""
    path = Path(str(cfg.input))
    if not path.exists() or path.is_dir():  # a file, or a named pipe / device (/dev/stdin)
        raise FileNotFoundError(f"input={cfg.input}: no such file. Give {what}.")
    if cfg.get("output") is not None and Path(str(cfg.output)).resolve() == path.resolve():
        raise ConfigError(
            f"output={cfg.output} is the input file: writing it would erase the input. Give "
            f"another output file."
        )
    try:
        return path.open("rb")
    except OSError as err:
        raise ConfigError(f"input={cfg.input}: cannot read it ({err.strerror}).") from None


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
