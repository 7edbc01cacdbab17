"""Question in, answer out: a trained reader (QATask) picking spans of a context, for
`encdec.load`, predict.py and the server alike. Contexts longer than `inputs.MAX_CONTEXT_TOKENS`
tokens are cut to their start, questions to the model's trained `data.max_question_len`
(`length_warnings` says so)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import datasets
import torch

from encdec.data.squad import FEATURES, QADataset, check_features, encode_qa
from encdec.decoding.spans import top_spans
from encdec.errors import ConfigError
from encdec.inference import inputs
from encdec.inference.encoding import Encoding, api_encode
from encdec.inference.kinds import TaskKind
from encdec.inference.predictor import Predicted, PredictOptions, Warn
from encdec.inference.safety import tokenizer_failure
from encdec.tasks.qa import QATask, Span

#: The question length a reader trained before it was recorded was trained with
#: (encdec.data.squad.encode_qa's default).
DEFAULT_QUESTION_TOKENS = 64


def question_limit(task: QATask) -> int:
    """The most question tokens this reader was trained on (its `data.max_question_len`)."""
    saved = task.checkpoint_extras
    data = (saved.config.get("data") if saved is not None else None) or {}
    value = data.get("max_question_len")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DEFAULT_QUESTION_TOKENS


def trained_features(task: QATask) -> tuple[str, ...]:
    """The passage features this reader was trained with (`data.features`; before they were
    recorded, the two exact-match flags)."""
    saved = task.checkpoint_extras
    data = (saved.config.get("data") if saved is not None else None) or {}
    features = data.get("features")
    return FEATURES if features is None else check_features(features)


def _batch(task: QATask, items: list[dict[str, str]]) -> Any:
    tok = task.tokenizer
    contexts, questions = [i["context"] for i in items], [i["question"] for i in items]
    features, word_chars = trained_features(task), task.net.word_chars
    columns = encode_qa(
        tok,
        contexts,
        questions,
        max_passage_len=inputs.MAX_CONTEXT_TOKENS,
        max_question_len=question_limit(task),
        features=features,
        word_chars=word_chars,
    )
    columns.update(
        id=[str(i) for i in range(len(items))],
        question=questions,
        context=contexts,
        answers=[{"text": [], "answer_start": []} for _ in items],
    )
    pad_id = tok.token_to_id("<pad>")
    assert pad_id is not None  # every encdec tokenizer holds it
    ds = QADataset(
        datasets.Dataset.from_dict(columns),
        with_text=True,
        pad_id=pad_id,
        features=features,
        word_chars=word_chars,
    )
    return ds.collate(list(range(len(items))))


def answer_spans(task: QATask, items: list[dict[str, str]]) -> list[Span]:
    """The best span of each {"context", "question"} item's context, answered together."""
    return task.spans(_batch(task, items))


def n_best_spans(task: QATask, items: list[dict[str, str]], n: int) -> list[list[Span]]:
    """The `n` best spans of each item's context, best first (scores: probabilities)."""
    batch = _batch(task, items)
    start_logits, end_logits = task(batch)
    starts, ends, scores = top_spans(
        start_logits.float().log_softmax(-1),
        end_logits.float().log_softmax(-1),
        task.hparams["max_answer_len"],
        n,
    )
    found = []
    for context, offsets, s_row, e_row, score_row in zip(
        batch.contexts, batch.offsets, starts.tolist(), ends.tolist(), scores.tolist(), strict=True
    ):
        spans = []
        for s, e, score in zip(s_row, e_row, score_row, strict=True):
            if score == float("-inf") or e >= len(offsets):
                continue
            begin, end = int(offsets[s, 0]), int(offsets[e, 1])
            spans.append(Span(context[begin:end], begin, end, math.exp(score)))
        found.append(spans)
    return found


def answer_each(task: QATask, items: list[dict[str, str]], n: int = 1) -> list[list[Span] | str]:
    """The `n` best spans of each item (n = 1: the best, as `answer_spans`), or, for an item the
    tokenizer fails on, why (the others are answered together)."""
    try:
        return _answer(task, items, n)
    except BaseException as err:  # noqa: BLE001 (tokenizers' PanicException)
        tokenizer_failure(err)
    found: list[list[Span] | str] = []
    for item in items:  # one at a time: only the item that fails is lost
        try:
            found.extend(_answer(task, [item], n))
        except BaseException as err:  # noqa: BLE001
            found.append(tokenizer_failure(err))
    return found


def _answer(task: QATask, items: list[dict[str, str]], n: int) -> list[list[Span] | str]:
    if n <= 1:
        return [[span] for span in answer_spans(task, items)]
    return list(n_best_spans(task, items, n))


def length_warnings(task: QATask, context: str | None, question: str | None) -> list[str]:
    """What answering will cut of this context and question (none when the tokenizer fails:
    answering says so)."""
    found = []
    for text, limit, what in (
        (context, inputs.MAX_CONTEXT_TOKENS, "context tokens"),
        (question, question_limit(task), "question tokens"),
    ):
        try:
            length = len(task.tokenizer.encode(text or "", add_special_tokens=False).ids)
        except BaseException as err:  # noqa: BLE001
            tokenizer_failure(err)
            return []
        if length > limit:
            found.append(inputs.truncated(length, limit, what))
    return found


class QuestionAnswerer:
    """A trained extractive reader: question + context in, an answer span out.

    `model(question, context)` gives the best `Span(text, start, end, score)`: the exact
    substring `context[start:end]` and its probability p_start * p_end under the reader;
    `model.n_best(question, context, n)` the `n` best spans, best first; `model.answer(items)`
    answers a list of {"question", "context"} dicts together. Over-long contexts and questions
    are cut (InputWarning); an unusable question or context is a ValueError.
    """

    kind: TaskKind = "qa"

    def __init__(self, task: QATask) -> None:
        self.task = task.eval()

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        saved = self.task.checkpoint_extras
        assert saved is not None  # set by the loader
        return saved.config

    def __call__(self, question: str, context: str) -> Span:
        return self.n_best(question, context, 1)[0]

    @torch.no_grad()
    def n_best(self, question: str, context: str, n: int = 5) -> list[Span]:
        """The `n` best spans of `context` answering `question`, best first."""
        n = inputs.check_option("n_best", n, optional=False)
        return self._answer([{"question": question, "context": context}], n)[0]

    @torch.no_grad()
    def answer(self, items: list[dict[str, str]]) -> list[Span]:
        """The best span of each {"question", "context"} item."""
        return [spans[0] for spans in self._answer(list(items), 1)]

    def _answer(self, items: list[dict[str, str]], n: int) -> list[list[Span]]:
        for i, item in enumerate(items):
            checked = inputs.question_item(item)
            if checked.error is not None:
                raise ValueError(f"items[{i}]: {checked.error}.")
            for message in length_warnings(self.task, item["context"], item["question"]):
                inputs.warn_sentence(i, message)
        found = answer_each(self.task, items, n)
        for i, spans in enumerate(found):
            if isinstance(spans, str):
                raise ValueError(f"items[{i}]: {spans}.")
        return found  # type: ignore[return-value]

    def to(self, device: str | torch.device) -> QuestionAnswerer:
        self.task.to(device)
        return self

    @property
    def encoding(self) -> Encoding:
        """Texts as the reader reads a question (its question encoder, `data.max_question_len`)."""
        tok, net = self.task.tokenizer, self.task.net
        pad_id = tok.token_to_id("<pad>") or 0
        return Encoding(net, tok, pad_id, question_limit(self.task), net.word_chars)

    def encode(
        self,
        texts: str | list[str],
        pooling: str | None = None,
        batch_size: int = 64,
        side: str | None = None,
    ) -> torch.Tensor:
        """One vector per text, (N, D) float32 (`.numpy()` for NumPy), from the reader's
        question encoder (`encdec.inference.encoding`); pooling "last" (default) or "mean"."""
        return api_encode(self.encoding, texts, pooling, side, batch_size)

    # -- the Predictor interface (predict.py, the server) -----------------------------------
    def check(self, options: PredictOptions) -> None:
        inputs.check_option("n_best", options.n_best)

    @torch.no_grad()
    def predict_lines(
        self, numbered: list[tuple[int, bytes]], options: PredictOptions, warn: Warn
    ) -> Predicted:
        """One JSON line per input line: {"id", "question", "answer"}; with `scores` also
        "score", "start", "end"; with `n_best` also "answers": [{"text", "start", "end",
        "score"}, ...] best first. A line that cannot be answered gets "answer": "" and "error"."""
        items = [inputs.question_line(raw) for _, raw in numbered]
        good = [i for i, item in enumerate(items) if item.error is None]
        for i in good:
            for message in length_warnings(self.task, items[i].context, items[i].question):
                warn(numbered[i][0], message)
        found: list[list[Span] | str] = [[] for _ in items]
        if good:
            asked = [
                {"context": items[i].context, "question": items[i].question or ""} for i in good
            ]
            for i, spans in zip(
                good, answer_each(self.task, asked, options.n_best or 1), strict=True
            ):
                found[i] = spans
        lines, unusable = [], 0
        for (number, _), item, spans in zip(numbered, items, found, strict=True):
            if isinstance(spans, str):
                item = inputs.Question(question=item.question, id=item.id, error=spans)
                spans = []
            if item.error is not None:
                end = " " if item.error.endswith(".") else ". "
                warn(number, f"{item.error}{end}Its answer is empty.")
                unusable += 1
            lines.append(
                inputs.answer_json(item, spans[0].text if spans else "", _extra(spans, options))
            )
        return Predicted(lines, unusable)

    def command_line(
        self, fields: Mapping[str, Any], options: PredictOptions, note: Callable[[str], None]
    ) -> str | None:
        """`question=` / `context=` (numbers Hydra parsed are taken as text) -> the answer, or
        with `n_best` / `scores` its JSON line; None when neither is given."""
        if fields.get("question") is None and fields.get("context") is None:
            return None
        given = {}
        for key in ("context", "question"):
            value = fields.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            given[key] = value
        item = inputs.question_item(given)
        if item.error is not None:
            raise ConfigError(
                f"question=/context=: {item.error}. Give both, e.g. 'question=\"Who won?\"' "
                f"'context=\"The Broncos won 24-10.\"'."
            )
        for message in length_warnings(self.task, item.context, item.question):
            note(f"question=/context=: {message}")
        asked = [{"context": item.context, "question": item.question or ""}]
        spans = answer_each(self.task, asked, options.n_best or 1)[0]
        if isinstance(spans, str):
            raise ConfigError(f"question=/context=: {spans}.")
        if options.n_best or options.scores:
            return inputs.answer_json(item, spans[0].text, _extra(spans, options))
        return spans[0].text

    def describe(self) -> dict[str, Any]:
        return {}


def _extra(spans: list[Span], options: PredictOptions) -> dict[str, Any]:
    """The optional fields of a QA output line."""
    extra: dict[str, Any] = {}
    if options.scores and spans:
        best = spans[0]
        extra.update(score=round(best.score, 6), start=best.start, end=best.end)
    if options.n_best:
        extra["answers"] = [
            {"text": s.text, "start": s.start, "end": s.end, "score": round(s.score, 6)}
            for s in spans
        ]
    return extra
