"""One interface for every task: what predict.py, the server and the page call, and the one
place that maps a trained task to the object using it (`predictor_for`).

`encdec.load(path)` returns a `Predictor` that fits the model's recorded task kind:
- "translation" / "summarization": an `encdec.inference.translator.Translator` (text in, text
  out: `model(texts)`, `model.n_best(texts, n)`),
- "qa": an `encdec.inference.answering.QuestionAnswerer` (`model(question, context)` -> a span
  with character offsets and score, `model.n_best(question, context, n)`),
- "retrieval": an `encdec.inference.retrieval.Retriever` (`model.search(question, passages, k)`,
  `encode_questions` / `encode_passages`).
Each also answers predict.py's input lines (`predict_lines`), says what the server shows
about it (`describe`) and gives each text's semantic vector (`encode`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from encdec.inference.kinds import TaskKind

Warn = Callable[[int, str], None]


@dataclass(frozen=True)
class PredictOptions:
    """predict.py's options for a batch of lines (checked: `encdec.inference.inputs.LIMITS`).

    `n_best` > 0: one JSON line per input with the n best outputs and their scores; `scores`:
    each output's log-probability (translation / summarization) or probability (QA) beside it.
    """

    beam_size: int | None = None
    max_length: int | None = None
    batch_size: int = 64
    n_best: int | None = None
    scores: bool = False


class Predicted(NamedTuple):
    """The output lines of a batch of input lines (one each, in order) and how many of those
    inputs could not be used (each was warned about)."""

    lines: list[str]
    unusable: int


@runtime_checkable
class Predictor(Protocol):
    """What every task's inference object offers."""

    #: "translation", "summarization" or "qa": recorded in the model file, never guessed.
    kind: TaskKind

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        ...

    def check(self, options: PredictOptions) -> None:
        """OptionError for options this model cannot honour (before any input is read)."""
        ...

    def predict_lines(
        self, numbered: list[tuple[int, bytes]], options: PredictOptions, warn: Warn
    ) -> Predicted:
        """predict.py: one output line per (line number, raw bytes) input line."""
        ...

    def command_line(
        self, fields: Mapping[str, Any], options: PredictOptions, note: Callable[[str], None]
    ) -> str | None:
        """predict.py's `question=` / `context=`: the output line, or None where this task
        takes no input on the command line."""
        ...

    def describe(self) -> dict[str, Any]:
        """The task's own entries of the server's GET /model (languages, decoding...)."""
        ...

    def to(self, device: Any) -> Predictor: ...

    @property
    def encoding(self) -> Any:
        """How texts become vectors (`encdec.inference.encoding.Encoding`): what the embed
        command and the server's /encode call, with their own warnings."""
        ...

    def encode(
        self,
        texts: str | list[str],
        pooling: str | None = None,
        batch_size: int = 64,
        side: str | None = None,
    ) -> Any:
        """One semantic vector per text: a float32 tensor (N, D) (`encdec.inference.encoding`;
        `pooling` and `side` default to the model's own, see docs/encoder.md)."""
        ...


def predictor_for(task: Any, kind: TaskKind) -> Predictor:
    """The inference object of a trained `task` of `kind` (CheckpointError when the recorded kind
    does not fit the task the file builds)."""
    from encdec.errors import CheckpointError  # noqa: PLC0415
    from encdec.inference.answering import QuestionAnswerer  # noqa: PLC0415
    from encdec.inference.retrieval import Retriever  # noqa: PLC0415
    from encdec.inference.translator import Translator  # noqa: PLC0415
    from encdec.tasks import QATask, RetrievalTask, Seq2SeqTask  # noqa: PLC0415

    if kind == "qa" and isinstance(task, QATask):
        return QuestionAnswerer(task)
    if kind == "retrieval" and isinstance(task, RetrievalTask):
        return Retriever(task)
    if kind in ("translation", "summarization") and isinstance(task, Seq2SeqTask):
        return Translator(task, kind)
    raise CheckpointError(
        f"the file records the task kind {kind!r}, which a {type(task).__name__} cannot do; "
        f"the file is refused. Use a file written by encdec."
    )


def load(path: str | Path, map_location: str = "cpu", checkpoint: bool | None = None) -> Predictor:
    """A model file (`python -m encdec.export`) or a train.py checkpoint -> its `Predictor`.

    `checkpoint` None: a `.ckpt` file is read as a checkpoint, anything else as a model file.
    Only this project's own classes are built from the file (encdec.build's trust rules).
    """
    from encdec import build  # noqa: PLC0415

    path = Path(path)
    is_checkpoint = path.suffix == ".ckpt" if checkpoint is None else checkpoint
    if is_checkpoint:
        loaded = build.load_checkpoint(path)
        loaded.task.to(map_location)
    else:
        loaded = build.load_model_file(path, map_location=map_location)
    return predictor_for(loaded.task, loaded.kind)


def load_kind(path: object, kind: TaskKind, what: str) -> Predictor:
    """The model at `path` (a model file or `.ckpt`), which must be of `kind`: e.g. the reader
    of open-domain QA (`what`: the option naming it); one ConfigError line otherwise."""
    from encdec.errors import ConfigError  # noqa: PLC0415

    if not isinstance(path, str | Path) or not str(path):
        raise ConfigError(f"{what}={path!r}: give the path of a model file or checkpoint.")
    model = load(path)
    if model.kind != kind:
        raise ConfigError(
            f"{what}={path} is a {model.kind} model, not a {kind} model: give one trained with "
            f"task={kind}."
        )
    return model
