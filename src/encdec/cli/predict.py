"""`python predict.py ckpt_path=... [input=FILE] [output=FILE]`: use a checkpoint on text.

The checkpoint's recorded task decides what a line is (`encdec.inference.predictor`):
translation / summarization read one text per line and write one output per line; QA reads
JSON lines `{"context": ..., "question": ..., "id": ...}` and writes one JSON answer per line
(or answers `question="..." context="..."` given on the command line).

One output line per input line, always, written (and flushed) as each batch is answered: from
`input=FILE` in batches of `batch_size` lines, from stdin one line at a time as it is typed.
`n_best=N`: one JSON line per input with the N best outputs and their scores; `scores=true`:
each output's log-probability (QA: probability) beside it. The input rules, the option ranges
and the exit status: `encdec.inference.inputs` (docs/training.md#input-rules).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import replace

import hydra
import torch
from omegaconf import DictConfig

from encdec import build
from encdec.cli.common import CONF_DIR, run_friendly
from encdec.cli.lines import Output, open_input, open_output, stdin_lines, warner
from encdec.errors import ConfigError
from encdec.inference import inputs
from encdec.inference.predictor import PredictOptions, Predictor, predictor_for

log = logging.getLogger(__name__)

#: What input= holds, for the message when it is missing.
INPUT_FORMATS = "a UTF-8 text file, one input per line (QA: JSON lines with context and question)"


def predict_options(cfg: DictConfig) -> PredictOptions:
    """beam_size / max_length / batch_size / n_best in range and scores a boolean, before
    anything is loaded."""
    values = {
        key: inputs.check_option(key, cfg.get(key)) for key in ("beam_size", "max_length", "n_best")
    }
    scores = cfg.get("scores", False)
    if not isinstance(scores, bool):
        raise ConfigError(f"scores={scores} is not allowed: give scores=true or scores=false.")
    return PredictOptions(
        beam_size=values["beam_size"],
        max_length=values["max_length"],
        batch_size=inputs.check_option("batch_size", cfg.get("batch_size"), optional=False),
        n_best=values["n_best"],
        scores=scores,
    )


def predict_stream(
    predictor: Predictor,
    options: PredictOptions,
    lines: Iterable[bytes],
    where: str,
    out: Output,
) -> int:
    """Answer numbered lines in batches of `options.batch_size`, writing each batch's output
    lines as soon as they are ready. Returns the number of lines that could not be used."""
    warn, unusable = warner(where), 0
    for chunk in inputs.batched(enumerate(lines, start=1), options.batch_size):
        found = predictor.predict_lines(chunk, options, warn)
        out.write(found.lines)
        unusable += found.unusable
    return unusable


def predict(cfg: DictConfig) -> None:
    options = predict_options(cfg)
    # The files first: a missing input or an output that is the input costs no model loading.
    source = open_input(cfg, INPUT_FORMATS) if cfg.input is not None else None
    with source or nullcontext():
        loaded = build.load_checkpoint(cfg.ckpt_path)
        predictor = predictor_for(loaded.task, loaded.kind)
        predictor.check(options)  # OptionError (a ConfigError): one line
        torch.set_grad_enabled(False)
        fields = {"question": cfg.get("question"), "context": cfg.get("context")}
        answer = predictor.command_line(fields, options, lambda message: log.warning("%s", message))
        if answer is not None:
            with open_output(cfg.output) as out:
                out.write([answer])
            return
        with open_output(cfg.output) as out:
            if source is not None:
                lines, where = inputs.read_lines(source), str(cfg.input)
            else:  # one line at a time, answered as soon as it is typed
                lines, where = stdin_lines(), "stdin"
                options = replace(options, batch_size=1)
            unusable = predict_stream(predictor, options, lines, where, out)
    if unusable and predictor.kind == "qa":
        log.warning(
            "%d input line(s) could not be answered (see above); their answers are empty, with "
            'an "error".',
            unusable,
        )
    elif unusable:
        log.warning(
            "%d input line(s) could not be used (see above); their output lines are empty.",
            unusable,
        )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: predict(cfg))
