"""A trained seq2seq model ready to translate (or summarize) raw text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from encdec import inputs
from encdec.data.batching import Collator, Example
from encdec.data.copy_vocab import extend_ids
from encdec.decoding import DecodingSettings
from encdec.tasks import Seq2SeqTask


@dataclass
class Decoded:
    """One decoded line: its text, the token ids read and written (extended ids for copied
    words), the source-only words those name, attention (T, S) if asked for."""

    text: str
    source_ids: list[int]
    output_ids: list[int]
    oov: list[str]
    attention: torch.Tensor | None = None


def decode_lines(
    task: Seq2SeqTask,
    lines: list[str],
    batch_size: int,
    settings: DecodingSettings | None = None,
    warn: Callable[[int, str], None] | None = None,
    return_attention: bool = False,
) -> list[Decoded]:
    """Decode `lines` in batches of similar length; results come back in input order.

    A line longer than `inputs.source_limit` tokens is cut to it; `warn(index, message)` hears.
    Empty lines decode to empty results. `return_attention` keeps each output's attention over
    its source tokens (output tokens x source tokens); the outputs are the same either way.
    """
    ids = task.ids
    encodings = task.tokenizer.encode_batch(lines, add_special_tokens=False)
    encoded = [e.ids for e in encodings]
    copy = task.copies
    vocab = task.tokenizer.get_vocab_size()
    oov: list[list[str]] = [[] for _ in lines]
    if copy:  # source-only words get extended ids, so the pointer-generator can copy them
        for i, (e, line) in enumerate(zip(encodings, lines, strict=True)):
            encoded[i], oov[i] = extend_ids(e.ids, e.offsets, line, ids["unk"], vocab, [])
    limit = inputs.source_limit(inputs.max_positions(task.net))
    for i in (i for i in range(len(lines)) if len(encoded[i]) > limit):
        if warn is not None:
            warn(i, inputs.truncated(len(encoded[i]), limit))
        encoded[i] = encoded[i][:limit]
    collate = Collator(ids["pad"], ids["bos"], ids["eos"], *((vocab, ids["unk"]) if copy else ()))
    # Empty lines stay empty; the rest are decoded in batches of similar length.
    order = sorted((i for i in range(len(lines)) if encoded[i]), key=lambda i: len(encoded[i]))
    results = [Decoded("", encoded[i], [], oov[i]) for i in range(len(lines))]
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([Example(i, encoded[i], [], lines[i], "", [""], oov[i]) for i in chunk])
        batch.src, batch.src_lengths = batch.src.to(task.device), batch.src_lengths.to(task.device)
        if batch.src_ext is not None:
            batch.src_ext = batch.src_ext.to(task.device)
        hyps = task.decode(batch, settings, return_attention=return_attention)
        for i, hyp in zip(chunk, hyps, strict=True):
            attention = None
            if hyp.attention is not None:
                attention = hyp.attention[: len(hyp.tokens), : len(encoded[i])].float().cpu()
            text = task.detokenize(hyp.tokens, oov[i])
            results[i] = Decoded(text, encoded[i], list(hyp.tokens), oov[i], attention)
    return results


def translate_lines(
    task: Seq2SeqTask,
    lines: list[str],
    batch_size: int,
    settings: DecodingSettings | None = None,
    warn: Callable[[int, str], None] | None = None,
) -> list[str]:
    """Translate `lines` in batches of similar length; outputs come back in input order.

    A line longer than `inputs.source_limit` tokens is cut to it; `warn(index, message)` hears.
    """
    return [d.text for d in decode_lines(task, lines, batch_size, settings, warn)]


def decoding_settings(
    task: Seq2SeqTask, beam_size: int | None, max_length: int | None
) -> DecodingSettings:
    """The task's decoding settings with a user's beam size / output cap (a copy), the cap held
    to what the model can produce (a Transformer's max_positions)."""
    cap = inputs.output_cap(max_length or task.decoding.max_len_cap, inputs.max_positions(task.net))
    return task.decoding.replace(beam_size=beam_size, max_len_cap=cap)


class Translator:
    """What `encdec.load` returns: `translate(["a sentence", ...])` -> one output per input."""

    def __init__(self, task: Seq2SeqTask) -> None:
        self.task = task.eval()

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        return self.task.checkpoint_extras.config

    @torch.no_grad()
    def translate(
        self,
        sentences: list[str],
        beam_size: int | None = None,
        max_length: int | None = None,
        batch_size: int = 64,
    ) -> list[str]:
        """Translate raw sentences (beam search; beam_size / max_length default to the model's).

        The rules of `encdec.inputs`: ValueError for an option out of range or a non-string
        sentence; blank or unusable sentences (InputWarning) translate to "", over-long ones are
        cut (InputWarning).
        """
        sentences = inputs.api_sentences(sentences)
        beam_size = inputs.check_option("beam_size", beam_size)
        max_length = inputs.check_option("max_length", max_length)
        batch_size = inputs.check_option("batch_size", batch_size, optional=False)
        settings = decoding_settings(self.task, beam_size, max_length)
        return translate_lines(self.task, sentences, batch_size, settings, inputs.warn_sentence)

    def to(self, device: str | torch.device) -> Translator:
        self.task.to(device)
        return self
