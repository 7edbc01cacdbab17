"""What a request to /predict (and /encode) may hold: strict types, bounds, the text rules of
`encdec.inference.inputs`.

FastAPI checks a request against these models in the HTTP process, before it is queued for the
model, so a bad request is answered 4xx on its own and never fails a batch of good ones. The
bounds (`Limits`) come from conf/serve.yaml; `configure` sets them before the server starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, model_validator

from encdec.inference import inputs
from encdec.models.pooling import POOLINGS


@dataclass(frozen=True)
class Limits:
    """Caps on one request (conf/serve.yaml `limits`)."""

    max_texts: int = 32  # texts in one request
    max_chars: int = 5000  # characters in one text (translation / summarization)
    max_context_chars: int = 20000  # characters in a QA context
    max_question_chars: int = 1000  # characters in a QA question
    max_beam_size: int = 16  # beam_size 1..this (and within inputs.LIMITS)
    max_length: int = 512  # max_length 1..this output tokens
    max_length_penalty: float = 5.0  # length_penalty 0..this
    max_k: int = 20  # passages a search returns, 1..this (retrieval models)
    max_request_bytes: int = 1_000_000  # request body size (413 above)


LIMITS = Limits()


def configure(limits: Limits) -> None:
    """Set the bounds requests are checked against (before the server starts its processes)."""
    global LIMITS
    LIMITS = limits


class FieldError(ValueError):
    """A request value that cannot be used; `field` names it ("texts[2]", "beam_size")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _check_text(field: str, text: str, max_chars: int) -> None:
    if inputs.is_blank(text):
        raise FieldError(field, f"{field} is empty: give some text")
    if len(text) > max_chars:
        raise FieldError(field, f"{field} has {len(text)} characters; at most {max_chars} allowed")
    problem = inputs.text_problem(text)
    if problem is not None:
        raise FieldError(field, f"{field} {problem}")


def _check_texts(texts: list[str] | None) -> None:
    """A request's `texts`: at least one, at most `max_texts`, each within `max_chars`."""
    if not texts:
        raise FieldError("texts", "texts is empty: give at least one text")
    if len(texts) > LIMITS.max_texts:
        raise FieldError(
            "texts", f"texts has {len(texts)} texts; at most {LIMITS.max_texts} per request"
        )
    for i, text in enumerate(texts):
        _check_text(f"texts[{i}]", text, LIMITS.max_chars)


class TextRequest(BaseModel):
    """Translation / summarization: `text` or `texts` (not both), decoding options, attention."""

    model_config = ConfigDict(strict=True, extra="forbid")

    text: str | None = None
    texts: list[str] | None = None
    attention: bool = False
    beam_size: int | None = None
    length_penalty: float | None = None
    max_length: int | None = None

    @model_validator(mode="after")
    def _bounds(self) -> TextRequest:
        if (self.text is None) == (self.texts is None):
            raise FieldError(
                "text", 'give "text" (a string) or "texts" (a list of strings), one of them'
            )
        if self.text is not None:
            _check_text("text", self.text, LIMITS.max_chars)
        else:
            _check_texts(self.texts)
        beam_high = min(LIMITS.max_beam_size, inputs.LIMITS["beam_size"][1])
        length_high = min(LIMITS.max_length, inputs.LIMITS["max_length"][1])
        for name, high in (("beam_size", beam_high), ("max_length", length_high)):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= high:
                raise FieldError(
                    name, f"{name}={value} is out of range: give a whole number 1..{high}"
                )
        penalty = self.length_penalty
        if penalty is not None and not 0 <= penalty <= LIMITS.max_length_penalty:
            raise FieldError(
                "length_penalty",
                f"length_penalty={penalty} is out of range: give a number "
                f"0..{LIMITS.max_length_penalty}",
            )
        return self

    @property
    def lines(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class QARequest(BaseModel):
    """Extractive QA: a question about a context."""

    model_config = ConfigDict(strict=True, extra="forbid")

    question: str
    context: str

    @model_validator(mode="after")
    def _bounds(self) -> QARequest:
        _check_text("question", self.question, LIMITS.max_question_chars)
        _check_text("context", self.context, LIMITS.max_context_chars)
        return self


class EncodeRequest(BaseModel):
    """POST /encode: `texts` (1..max_texts, each as /predict's texts), optional `pooling` (a name
    of `encdec.models.pooling.POOLINGS`; whether this model offers it is the model's to say) and
    `side` (which encoder reads them)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    texts: list[str]
    pooling: str | None = None
    side: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> EncodeRequest:
        _check_texts(self.texts)
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise FieldError(
                "pooling", f"pooling={self.pooling!r} is not one of {sorted(POOLINGS)} (or null)"
            )
        return self


class SearchRequest(BaseModel):
    """A retrieval model's /predict: a question, and how many passages to return (`k`, 1..
    `max_k`; null: the server's `k`)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    question: str
    k: int | None = None

    @model_validator(mode="after")
    def _bounds(self) -> SearchRequest:
        _check_text("question", self.question, LIMITS.max_question_chars)
        if self.k is not None and not 1 <= self.k <= LIMITS.max_k:
            raise FieldError(
                "k", f"k={self.k} is out of range: give a whole number 1..{LIMITS.max_k}"
            )
        return self
