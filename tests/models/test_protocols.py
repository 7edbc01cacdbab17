"""Networks state their abilities through `Seq2SeqNetwork` (no getattr probing): the two
encoder-decoders satisfy it with the abilities they have; the QA reader does not, and a
sequence-to-sequence task refuses it by name."""

from __future__ import annotations

import functools

import pytest

from encdec.data.tokenization import placeholder_tokenizer
from encdec.errors import ConfigError
from encdec.models import (
    BahdanauAttention,
    DocumentReader,
    Seq2Seq,
    Seq2SeqNetwork,
    TransformerSeq2Seq,
)
from encdec.tasks import Seq2SeqTask


def test_the_encoder_decoders_satisfy_the_protocol_with_their_abilities() -> None:
    attention = functools.partial(BahdanauAttention)
    rnn = Seq2Seq(
        vocab_size=50, embedding_dim=8, hidden_dim=8, attention=attention, copy=True, coverage=True
    )
    transformer = TransformerSeq2Seq(
        vocab_size=50, embedding_dim=8, hidden_dim=8, num_heads=2, ff_dim=16, max_positions=64
    )
    for net in (rnn, transformer):
        assert isinstance(net, Seq2SeqNetwork) and net.vocab_size == 50
    assert (rnn.copy, rnn.coverage, rnn.max_positions) == (True, True, None)
    assert (transformer.copy, transformer.coverage, transformer.max_positions) == (False, False, 64)
    plain = Seq2Seq(vocab_size=50, embedding_dim=8, hidden_dim=8)
    assert (plain.copy, plain.coverage) == (False, False)


def test_a_reader_is_not_a_seq2seq_network_and_the_task_says_so() -> None:
    reader = DocumentReader(vocab_size=50, embedding_dim=8, hidden_dim=8, num_layers=1)
    assert not isinstance(reader, Seq2SeqNetwork)
    with pytest.raises(ConfigError, match=r"model=seq2seq or model=transformer.*DocumentReader"):
        Seq2SeqTask(reader, placeholder_tokenizer(), optimizer=None)
