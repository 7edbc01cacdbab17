"""`python predict.py ckpt_path=<QA checkpoint> ...`: answer questions about paragraphs.

Input, one of:
- `question="..." context="..."` on the command line: prints the answer (a question or context
  that cannot be used ends with a message and exit status 1);
- `input=FILE`: JSON lines `{"context": ..., "question": ..., "id": ...}` (id optional);
- neither: the same JSON lines typed on stdin, each answered as soon as it is read.

Output: one JSON line per input line, in order, `{"id": ..., "question": ..., "answer": ...}`,
to stdout or `output=FILE`, written (and flushed) as each batch is answered. A line that cannot be
answered (not UTF-8, empty, not JSON, not an object, a missing / empty / non-string `context` or
`question`, a lone surrogate, a context of only invisible characters, an `id` that is not a string
or a number) gets `{"id", "question", "answer": "", "error": "<what is wrong>"}` (id and question
as far as they are usable, else null), the same message as a warning on stderr naming the line,
and the lines after it are answered as usual: exit status 0. Contexts longer than
`encdec.inputs.MAX_CONTEXT_TOKENS` tokens are cut to their start, questions to their first 64
tokens, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from omegaconf import DictConfig

from encdec import inputs
from encdec.answering import answer, length_warnings
from encdec.cli.lines import open_input, open_output, stdin_lines, warner
from encdec.errors import ConfigError
from encdec.tasks.qa import QATask

log = logging.getLogger(__name__)


def answer_stream(task: QATask, lines: Iterable[bytes], batch_size: int, where: str, out) -> int:
    """Answer numbered JSON lines in batches, writing each batch's output lines as soon as they
    are answered. Returns the number of lines that could not be answered."""
    warn, unusable = warner(where), 0
    for chunk in inputs.batched(enumerate(lines, start=1), batch_size):
        items = [inputs.question_line(raw) for _, raw in chunk]
        good = [i for i, item in enumerate(items) if item.error is None]
        for i, item in enumerate(items):
            if item.error is not None:
                end = " " if item.error.endswith(".") else ". "
                warn(chunk[i][0], f"{item.error}{end}Its answer is empty.")
                unusable += 1
            else:
                for message in length_warnings(task, item.context, item.question):
                    warn(chunk[i][0], message)
        answers = [""] * len(items)
        if good:
            found = answer(
                task, [{"context": items[i].context, "question": items[i].question} for i in good]
            )
            for i, text in zip(good, found, strict=True):
                answers[i] = text
        out.write(inputs.answer_json(item, a) for item, a in zip(items, answers, strict=True))
    return unusable


def command_line_question(cfg: DictConfig) -> inputs.Question:
    """question=/context= given on the command line (numbers Hydra parsed are taken as text)."""
    fields = {}
    for key in ("context", "question"):
        value = cfg.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        fields[key] = value
    item = inputs.question_item(fields)
    if item.error is not None:
        raise ConfigError(
            f"question=/context=: {item.error}. Give both, e.g. 'question=\"Who won?\"' "
            f"'context=\"The Broncos won 24-10.\"'."
        )
    return item


def answer_questions(task: QATask, cfg: DictConfig) -> None:
    if cfg.get("question") is not None or cfg.get("context") is not None:
        item = command_line_question(cfg)
        for message in length_warnings(task, item.context, item.question):
            log.warning("question=/context=: %s", message)
        found = answer(task, [{"context": item.context, "question": item.question}])[0]
        with open_output(cfg.output) as out:
            out.write([found])
        return
    if cfg.input is not None:
        source = open_input(cfg, "a JSON-lines file with context and question (UTF-8)")
        with source, open_output(cfg.output) as out:
            unusable = answer_stream(
                task, inputs.read_lines(source), cfg.batch_size, str(cfg.input), out
            )
    else:
        with open_output(cfg.output) as out:
            unusable = answer_stream(task, stdin_lines(), 1, "stdin", out)
    if unusable:
        log.warning(
            "%d input line(s) could not be answered (see above); their answers are empty, with "
            'an "error".',
            unusable,
        )
