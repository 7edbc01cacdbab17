"""`python predict.py ckpt_path=... [input=FILE]`: translate text with a trained checkpoint.

A QA checkpoint answers questions instead (see encdec.cli.answer for its input format).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from encdec import build
from encdec.cli.answer import answer_questions
from encdec.cli.common import CONF_DIR, run_friendly
from encdec.errors import ConfigError
from encdec.tasks import QATask
from encdec.translator import translate_lines


def stdin_lines() -> Iterator[str]:
    """Lines typed by the user (with a prompt when stdin is a terminal)."""
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        yield line.rstrip("\n")


def write(outputs: Iterable[str], path: str | None) -> None:
    if path is None:
        for text in outputs:
            print(text, flush=True)
    else:
        Path(path).write_text("".join(f"{t}\n" for t in outputs), encoding="utf-8")


def predict(cfg: DictConfig) -> None:
    task = build.load_checkpoint(cfg.ckpt_path).task
    if isinstance(task, QATask):  # a reader answers questions about paragraphs instead
        torch.set_grad_enabled(False)
        answer_questions(task, cfg, stdin_lines())
        return
    try:
        settings = task.decoding.replace(beam_size=cfg.beam_size, max_len_cap=cfg.max_length)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    torch.set_grad_enabled(False)
    if cfg.input is not None:
        path = Path(cfg.input)
        if not path.is_file():
            raise FileNotFoundError(
                f"input={cfg.input}: no such file. Give a text file, one sentence per line."
            )
        lines = path.read_text(encoding="utf-8").splitlines()
        write(translate_lines(task, lines, cfg.batch_size, settings), cfg.output)
    else:  # one sentence at a time, answered as soon as it is typed
        write((translate_lines(task, [line], 1, settings)[0] for line in stdin_lines()), cfg.output)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: predict(cfg))
