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
from collections.abc import Iterable

import hydra
import torch
from omegaconf import DictConfig

from encdec import build, inputs
from encdec.cli.answer import answer_questions
from encdec.cli.common import CONF_DIR, run_friendly
from encdec.cli.lines import Output, open_input, open_output, stdin_lines, warner
from encdec.decoding import DecodingSettings
from encdec.errors import ConfigError
from encdec.tasks import QATask, Seq2SeqTask
from encdec.translator import decoding_settings, translate_lines

log = logging.getLogger(__name__)


def check_options(cfg: DictConfig) -> None:
    """beam_size / max_length / batch_size in range, before anything is loaded."""
    try:
        for key in ("beam_size", "max_length", "batch_size"):
            inputs.check_option(key, cfg.get(key), optional=key != "batch_size")
    except inputs.OptionError as err:
        raise ConfigError(str(err)) from None


def translate_stream(
    task: Seq2SeqTask,
    settings: DecodingSettings,
    lines: Iterable[bytes],
    batch_size: int,
    where: str,
    out: Output,
) -> int:
    """Translate numbered lines in batches of `batch_size`, writing each batch's outputs as soon
    as they are decoded. Returns the number of lines that could not be used."""
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
            task, texts, batch_size, settings, lambda i, message, n=numbers: warn(n[i], message)
        )
        out.write(outputs)
    return unusable


def predict(cfg: DictConfig) -> None:
    check_options(cfg)
    task = build.load_checkpoint(cfg.ckpt_path).task
    torch.set_grad_enabled(False)
    if isinstance(task, QATask):  # a reader answers questions about paragraphs instead
        answer_questions(task, cfg)
        return
    settings = decoding_settings(task, cfg.beam_size, cfg.max_length)
    if cfg.input is not None:
        source = open_input(cfg, "a text file, one sentence per line (UTF-8)")
        with source, open_output(cfg.output) as out:
            unusable = translate_stream(
                task, settings, inputs.read_lines(source), cfg.batch_size, str(cfg.input), out
            )
    else:  # one sentence at a time, answered as soon as it is typed
        with open_output(cfg.output) as out:
            unusable = translate_stream(task, settings, stdin_lines(), 1, "stdin", out)
    if unusable:
        log.warning(
            "%d input line(s) could not be used (see above); their output lines are empty.",
            unusable,
        )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: predict(cfg))
