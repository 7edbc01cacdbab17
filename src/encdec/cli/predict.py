"""`python predict.py ckpt_path=... [input=FILE] [output=FILE]`: translate text with a checkpoint.

A QA checkpoint answers questions instead (see encdec.cli.answer for its input format).

One output line per input line, always, written (and flushed) as each batch is answered: from
`input=FILE` in batches of `batch_size` lines, from stdin one line at a time as it is typed.
Lines are split on "\\n" only and decoded one by one. Blank lines give empty output lines; lines
that cannot be used (not UTF-8, a lone surrogate, only invisible characters) give an empty output
line and a one-line warning on stderr naming the line; over-long lines are truncated to what the
model reads, with a warning (the rules: `encdec.inputs`).

Exit status 0 when every line got its output line (warnings included), 1 when nothing could be
done: an option out of range (`beam_size` 1..64, `max_length` 1..1024, `batch_size` 1..4096), a
missing or unreadable input file, an output that cannot be written, an unusable checkpoint.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import hydra
import torch
from omegaconf import DictConfig

from encdec import inputs
from encdec.cli.checks import ConfigError
from encdec.cli.common import CONF_DIR, load_checkpoint, run_friendly

log = logging.getLogger(__name__)


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


def check_options(cfg: DictConfig) -> None:
    """beam_size / max_length / batch_size in range, before anything is loaded."""
    try:
        for key in ("beam_size", "max_length", "batch_size"):
            inputs.check_option(key, cfg.get(key), optional=key != "batch_size")
    except inputs.OptionError as err:
        raise ConfigError(str(err)) from None


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


def translate_stream(task, lines: Iterable[bytes], batch_size: int, where: str, out: Output) -> int:
    """Translate numbered lines in batches of `batch_size`, writing each batch's outputs as soon
    as they are decoded. Returns the number of lines that could not be used."""
    from encdec.translator import translate_lines

    warn, unusable = warner(where), 0
    for chunk in inputs.batched(enumerate(lines, start=1), batch_size):
        texts = []
        for number, raw in chunk:
            source = inputs.source_line(raw, first=number == 1)
            if source.problem is not None:
                warn(number, source.problem)
                unusable += 1
            texts.append(source.text)
        numbers = [number for number, _ in chunk]
        outputs = translate_lines(
            task, texts, batch_size, lambda i, message, n=numbers: warn(n[i], message)
        )
        out.write(outputs)
    return unusable


def predict(cfg: DictConfig) -> None:
    check_options(cfg)
    task, _, _ = load_checkpoint(cfg.ckpt_path)
    task.eval()
    torch.set_grad_enabled(False)
    from encdec.tasks import QATask

    if isinstance(task, QATask):  # a reader answers questions about paragraphs instead
        from encdec.cli.answer import answer_questions

        answer_questions(task, cfg)
        return
    if cfg.beam_size is not None:
        task.hparams.beam_size = cfg.beam_size
    positions = inputs.max_positions(task.net)
    task.hparams.max_len_cap = inputs.output_cap(
        cfg.max_length or task.hparams.max_len_cap, positions
    )
    if cfg.input is not None:
        source = open_input(cfg, "a text file, one sentence per line (UTF-8)")
        with source, open_output(cfg.output) as out:
            unusable = translate_stream(
                task, inputs.read_lines(source), cfg.batch_size, str(cfg.input), out
            )
    else:  # one sentence at a time, answered as soon as it is typed
        with open_output(cfg.output) as out:
            unusable = translate_stream(task, stdin_lines(), 1, "stdin", out)
    if unusable:
        log.warning(
            "%d input line(s) could not be used (see above); their output lines are empty.",
            unusable,
        )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: predict(cfg))
