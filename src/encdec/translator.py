"""A trained model ready to translate: rebuilt from its config, tokenizer and weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from tokenizers import Tokenizer

from encdec import inputs
from encdec.data.batching import Collator
from encdec.data.tokenization import PAD
from encdec.tasks import Seq2SeqTask


def build_task(
    config: dict[str, Any], tokenizer_json: str, state_dict: dict[str, torch.Tensor]
) -> Seq2SeqTask:
    """The task (network + decoding settings) of a resolved training config, with its weights.

    Raises ValueError naming the mismatch when the weights do not fit the config.
    """
    from encdec.cli.common import build_net

    saved = OmegaConf.create(config)
    tok = Tokenizer.from_str(tokenizer_json)
    net = build_net(saved.model, vocab_size=tok.get_vocab_size(), pad_id=tok.token_to_id(PAD))
    task = instantiate(saved.task, net=net, tokenizer=tok)
    try:
        task.load_state_dict(state_dict)
    except RuntimeError as err:  # missing / unexpected keys, other shapes
        raise ValueError(f"the weights do not fit the saved config: {err}") from None
    task.checkpoint_extras = {"config": config}
    return task.eval()


def translate_lines(
    task: Seq2SeqTask,
    lines: list[str],
    batch_size: int,
    warn: Callable[[int, str], None] | None = None,
) -> list[str]:
    """Translate `lines` in batches of similar length; outputs come back in input order.

    A line longer than `inputs.source_limit` tokens is cut to it; `warn(index, message)` hears.
    """
    from encdec.data.datamodule import extend_ids

    ids = task.ids
    encodings = task.tokenizer.encode_batch(lines, add_special_tokens=False)
    encoded = [e.ids for e in encodings]
    copy = getattr(task.net, "copy", False)
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
    outputs: list[str] = [""] * len(lines)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([(i, encoded[i], [], lines[i], "", [""], oov[i]) for i in chunk])
        batch.src, batch.src_lengths = batch.src.to(task.device), batch.src_lengths.to(task.device)
        if batch.src_ext is not None:
            batch.src_ext = batch.src_ext.to(task.device)
        for i, text in zip(chunk, task.translate(batch), strict=True):
            outputs[i] = text
    return outputs


class Translator:
    """What `encdec.load` returns: `translate(["a sentence", ...])` -> one output per input."""

    def __init__(self, task: Seq2SeqTask) -> None:
        self.task = task.eval()

    @property
    def config(self) -> dict[str, Any]:
        """The resolved training config the model was built from."""
        return self.task.checkpoint_extras["config"]

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
        hp = self.task.hparams
        saved = hp.beam_size, hp.max_len_cap
        hp.beam_size = beam_size or hp.beam_size
        positions = inputs.max_positions(self.task.net)
        hp.max_len_cap = inputs.output_cap(max_length or hp.max_len_cap, positions)
        try:
            return translate_lines(self.task, sentences, batch_size, inputs.warn_sentence)
        finally:
            hp.beam_size, hp.max_len_cap = saved

    def to(self, device: str | torch.device) -> Translator:
        self.task.to(device)
        return self
