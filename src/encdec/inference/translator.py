"""Text in, text out: a trained seq2seq model (translation or summarization) decoding raw text,
for `encdec.load`, predict.py and the server alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch

from encdec.data.batching import Collator, Example
from encdec.data.copy_vocab import extend_ids
from encdec.decoding import DecodingSettings, Hypothesis
from encdec.inference import inputs
from encdec.inference.encoding import Encoding, api_encode, tokenize_texts
from encdec.inference.kinds import TaskKind
from encdec.inference.predictor import Predicted, PredictOptions
from encdec.inference.safety import tokenizer_failure
from encdec.models.protocols import SentenceEncoder
from encdec.tasks import Seq2SeqTask

Warn = Callable[[int, str], None]


@dataclass(frozen=True)
class Candidate:
    """One of the n best outputs of a line: its text and its log-probability under the model
    (the sum over its tokens and EOS; outputs are ranked by it over the length penalty)."""

    text: str
    log_prob: float


@dataclass
class Decoded:
    """One decoded line: its text, the token ids read and written (extended ids for copied
    words), the source-only words those name, attention (T, S) if asked for, the output's
    log-probability, its n best outputs (best first; the first is this one) when asked for, and
    `problem` when the line could not be decoded at all (its text is then "")."""

    text: str
    source_ids: list[int]
    output_ids: list[int]
    oov: list[str]
    attention: torch.Tensor | None = None
    log_prob: float | None = None
    n_best: list[Candidate] = field(default_factory=list)
    problem: str | None = None


def decode_lines(
    task: Seq2SeqTask,
    lines: list[str],
    batch_size: int,
    settings: DecodingSettings | None = None,
    warn: Warn | None = None,
    return_attention: bool = False,
    n_best: int = 0,
) -> list[Decoded]:
    """Decode `lines` in batches of similar length; results come back in input order.

    A line longer than `inputs.source_limit` tokens is cut to it; `warn(index, message)` hears,
    as it hears of a line the tokenizer fails on (decoded as "", with `problem` set). Empty lines
    decode to empty results. `return_attention` keeps each output's attention over its source
    tokens (output tokens x source tokens); `n_best` > 0 keeps that many best outputs of each
    line with their log-probabilities; the outputs are the same either way.
    """
    ids = task.ids
    encodings, problems = tokenize_texts(task.tokenizer, lines)
    encoded = [e.ids if e is not None else [] for e in encodings]
    copy = task.copies
    vocab = task.tokenizer.get_vocab_size()
    oov: list[list[str]] = [[] for _ in lines]
    if copy:  # source-only words get extended ids, so the pointer-generator can copy them
        for i, (e, line) in enumerate(zip(encodings, lines, strict=True)):
            if e is not None:
                encoded[i], oov[i] = extend_ids(e.ids, e.offsets, line, ids["unk"], vocab, [])
    limit = inputs.source_limit(inputs.max_positions(task.net))
    for i in (i for i in range(len(lines)) if len(encoded[i]) > limit):
        if warn is not None:
            warn(i, inputs.truncated(len(encoded[i]), limit))
        encoded[i] = encoded[i][:limit]
    collate = Collator(ids["pad"], ids["bos"], ids["eos"], *((vocab, ids["unk"]) if copy else ()))
    # Empty lines stay empty; the rest are decoded in batches of similar length.
    order = sorted((i for i in range(len(lines)) if encoded[i]), key=lambda i: len(encoded[i]))
    results = [Decoded("", encoded[i], [], oov[i], problem=problems[i]) for i in range(len(lines))]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([Example(i, encoded[i], [], lines[i], "", [""], oov[i]) for i in chunk])
        batch.src, batch.src_lengths = batch.src.to(task.device), batch.src_lengths.to(task.device)
        if batch.src_ext is not None:
            batch.src_ext = batch.src_ext.to(task.device)
        hyps = task.decode(batch, settings, return_attention=return_attention)
        for i, hyp in zip(chunk, hyps, strict=True):
            results[i] = _result(task, hyp, encoded[i], oov[i], n_best)
    for i, problem in enumerate(problems):
        if problem is None and results[i].problem is not None:
            problem = results[i].problem
        if problem is not None and warn is not None:
            warn(i, f"{problem}; {inputs.EMPTY_OUTPUT}.")
    return results


def _result(
    task: Seq2SeqTask, hyp: Hypothesis, source_ids: list[int], oov: list[str], n_best: int
) -> Decoded:
    """A hypothesis as text (its alternatives too when `n_best`); a tokenizer failure while
    detokenizing leaves the line empty with its `problem`."""
    attention = None
    if hyp.attention is not None:
        attention = hyp.attention[: len(hyp.tokens), : len(source_ids)].float().cpu()
    try:
        text = task.detokenize(hyp.tokens, oov)
        ranked = [hyp, *hyp.alternatives][:n_best]
        found = [Candidate(task.detokenize(h.tokens, oov), _log_prob(h)) for h in ranked]
    except BaseException as err:  # noqa: BLE001 (tokenizers' PanicException)
        return Decoded("", source_ids, [], oov, problem=tokenizer_failure(err))
    return Decoded(text, source_ids, list(hyp.tokens), oov, attention, _log_prob(hyp), found)


def _log_prob(hyp: Hypothesis) -> float:
    return hyp.log_prob if hyp.log_prob is not None else hyp.score


def decoding_settings(
    task: Seq2SeqTask, beam_size: int | None, max_length: int | None, n_best: int | None = None
) -> DecodingSettings:
    """The task's decoding settings with a user's beam size / output cap (a copy), the cap held
    to what the model can produce (a Transformer's max_positions). `n_best` outputs need a beam
    at least that wide: without a `beam_size` the model's beam is widened to it."""
    cap = inputs.output_cap(max_length or task.decoding.max_len_cap, inputs.max_positions(task.net))
    if n_best and beam_size is None:
        beam_size = max(task.decoding.beam_size, n_best)
    return task.decoding.replace(beam_size=beam_size, max_len_cap=cap)


def check_n_best(n_best: int | None, beam_size: int | None) -> int | None:
    """`n_best` in range and no more than the beam it is taken from (OptionError otherwise)."""
    n_best = inputs.check_option("n_best", n_best)
    if n_best and beam_size is not None and n_best > beam_size:
        raise inputs.OptionError(
            f"n_best={n_best} needs at least as wide a beam: give beam_size={n_best} or more "
            f"(or leave beam_size out: the model's beam is widened to n_best)."
        )
    return n_best


class Translator:
    """A trained translation or summarization model: text in, text out.

    `model(texts)` (or `translate(texts)` / `summarize(texts)`, the same call) gives one output
    per input text; `model.n_best(texts, n)` the n best outputs of each, best first, as
    `Candidate(text, log_prob)`. A single string is one text. Options: `beam_size` (default: the
    model's), `max_length` (output tokens, default: the model's cap), `batch_size`; the input
    rules of `encdec.inference.inputs` apply (ValueError for an option out of range or a
    non-string text; blank or unusable texts give "", over-long ones are cut: InputWarning).
    """

    def __init__(self, task: Seq2SeqTask, kind: TaskKind = "translation") -> None:
        self.task = task.eval()
        self.kind = kind

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        saved = self.task.checkpoint_extras
        assert saved is not None  # set by the loader
        return saved.config

    @torch.no_grad()
    def __call__(
        self,
        texts: str | list[str],
        beam_size: int | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
    ) -> list[str]:
        """One output per text (beam search; beam_size / max_length default to the model's)."""
        texts = inputs.api_sentences(texts)
        settings = self._settings(beam_size, max_length, batch_size)
        decoded = decode_lines(self.task, texts, batch_size, settings, inputs.warn_sentence)
        return [d.text for d in decoded]

    translate = __call__
    summarize = __call__

    @torch.no_grad()
    def n_best(
        self,
        texts: str | list[str],
        n: int = 5,
        beam_size: int | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
    ) -> list[list[Candidate]]:
        """The `n` best outputs of each text, best first (fewer when the search finished fewer;
        none for a blank or unusable text). The beam is at least `n` wide."""
        texts = inputs.api_sentences(texts)
        n_best = check_n_best(n, inputs.check_option("beam_size", beam_size))
        settings = self._settings(beam_size, max_length, batch_size, n_best)
        decoded = decode_lines(
            self.task, texts, batch_size, settings, inputs.warn_sentence, n_best=n_best or 0
        )
        return [d.n_best for d in decoded]

    def _settings(
        self, beam_size: Any, max_length: Any, batch_size: Any, n_best: int | None = None
    ) -> DecodingSettings:
        beam_size = inputs.check_option("beam_size", beam_size)
        max_length = inputs.check_option("max_length", max_length)
        inputs.check_option("batch_size", batch_size, optional=False)
        return decoding_settings(self.task, beam_size, max_length, n_best)

    def to(self, device: str | torch.device) -> Translator:
        self.task.to(device)
        return self

    @property
    def encoding(self) -> Encoding:
        """Texts as the model reads a source (its encoder, at most `inputs.source_limit` tokens)."""
        net = cast(SentenceEncoder, self.task.net)
        limit = inputs.source_limit(inputs.max_positions(net))
        return Encoding(net, self.task.tokenizer, self.task.ids["pad"], limit)

    def encode(
        self,
        texts: str | list[str],
        pooling: str | None = None,
        batch_size: int = 64,
        side: str | None = None,
    ) -> torch.Tensor:
        """One vector per text, (N, D) float32 (`.numpy()` for NumPy), from the source encoder
        (`encdec.inference.encoding`); pooling "last" (RNN default) or "mean" (Transformer)."""
        return api_encode(self.encoding, texts, pooling, side, batch_size)

    # -- the Predictor interface (predict.py, the server) -----------------------------------
    def check(self, options: PredictOptions) -> None:
        check_n_best(options.n_best, options.beam_size)

    @torch.no_grad()
    def predict_lines(
        self, numbered: list[tuple[int, bytes]], options: PredictOptions, warn: Warn
    ) -> Predicted:
        """One output line per input line: the output; with `scores`,
        `<log-probability>\\t<output>`; with `n_best`, a JSON object {"hypotheses": [{"text", "log_prob"}, ...]} (best first;
        empty, with "error", for a line that could not be used)."""
        texts, problems = [], []
        for number, raw in numbered:
            source = inputs.source_line(raw, first=number == 1)
            if source.problem is not None:
                warn(number, source.problem)
            texts.append(source.text)
            problems.append(source.problem)
        numbers = [number for number, _ in numbered]
        n_best = options.n_best or (1 if options.scores else 0)
        decoded = decode_lines(
            self.task,
            texts,
            options.batch_size,
            decoding_settings(self.task, options.beam_size, options.max_length, options.n_best),
            lambda i, message: warn(numbers[i], message),
            n_best=n_best,
        )
        lines = []
        for d, problem in zip(decoded, problems, strict=True):
            problem = problem or d.problem
            if options.n_best:
                row: dict[str, Any] = {
                    "hypotheses": [
                        {"text": c.text, "log_prob": round(c.log_prob, 4)} for c in d.n_best
                    ]
                }
                if problem is not None:
                    row["error"] = problem
                lines.append(inputs.json_line(row))
            elif options.scores and d.n_best:
                lines.append(f"{d.n_best[0].log_prob:.4f}\t{d.text}")
            else:
                lines.append(d.text)
        unusable = sum(p is not None for p in problems) + sum(
            p is None and d.problem is not None for d, p in zip(decoded, problems, strict=True)
        )
        return Predicted(lines, unusable)

    def command_line(
        self, fields: Mapping[str, Any], options: PredictOptions, note: Callable[[str], None]
    ) -> str | None:
        return None  # sentences come from input= or stdin

    def describe(self) -> dict[str, Any]:
        source = self.config.get("data", {}).get("source") or {}  # the data source's node
        return {
            "languages": {"source": source.get("src_lang"), "target": source.get("tgt_lang")},
            "decoding": asdict(self.task.decoding),
            "copies": self.task.copies,
        }
