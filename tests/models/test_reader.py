"""The document reader: shapes, masking, padding invariance, every attention option."""

from __future__ import annotations

import functools

import pytest
import torch

from encdec.models import BahdanauAttention, DocumentReader, LuongAttention

ATTENTIONS = {
    "none": None,
    "bahdanau": functools.partial(BahdanauAttention, attention_dim=None),
    "luong_dot": functools.partial(LuongAttention, score="dot"),
    "luong_general": functools.partial(LuongAttention, score="general"),
    "luong_concat": functools.partial(LuongAttention, score="concat"),
}


def inputs(gen: torch.Generator):
    passage = torch.randint(2, 50, (3, 9), generator=gen)
    question = torch.randint(2, 50, (3, 5), generator=gen)
    p_len, q_len = torch.tensor([9, 4, 6]), torch.tensor([5, 2, 3])
    passage[torch.arange(9) >= p_len[:, None]] = 0
    question[torch.arange(5) >= q_len[:, None]] = 0
    features = torch.randint(0, 2, (3, 9, 2), generator=gen).float()
    features[torch.arange(9) >= p_len[:, None]] = 0
    return passage, p_len, question, q_len, features


@pytest.mark.parametrize("attention", list(ATTENTIONS))
@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "rnn"])
def test_scores_are_masked_and_padding_changes_nothing(attention: str, rnn_type: str) -> None:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = DocumentReader(50, 0, 12, 8, num_layers=2, rnn_type=rnn_type, dropout=0.0,
                         attention=ATTENTIONS[attention]).eval()  # fmt: skip
    assert (net.align is None) == (attention == "none")
    passage, p_len, question, q_len, features = inputs(gen)
    start, end = net(passage, p_len, question, q_len, features)
    assert start.shape == end.shape == (3, 9)
    padding = torch.arange(9) >= p_len[:, None]
    assert torch.isinf(start[padding]).all() and torch.isfinite(start[~padding]).all()
    # Example 1 alone, without padding, scores exactly as inside the padded batch.
    alone = net(passage[1:2, :4], p_len[1:2], question[1:2, :2], q_len[1:2], features[1:2, :4])
    torch.testing.assert_close(alone[0][0], start[1, :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone[1][0], end[1, :4], atol=1e-5, rtol=1e-5)


def test_question_and_passage_share_one_embedding() -> None:
    net = DocumentReader(50, 0, 12, 8)
    assert net.passage_encoder.embedding is net.embedding is net.question_encoder.embedding
    assert net.passage_encoder.rnn.input_size == 12 + 2  # embedding + exact-match flags
    aligned = DocumentReader(50, 0, 12, 8, attention=ATTENTIONS["luong_general"])
    assert aligned.passage_encoder.rnn.input_size == 12 + 2 + 12  # + question-aligned embedding


def char_inputs(gen: torch.Generator, tokens: torch.Tensor, lengths: torch.Tensor, width: int):
    """Random character ids (B, T, width) for real tokens, zeros at padding."""
    chars = torch.randint(1, 257, (*tokens.shape, width), generator=gen)
    chars[torch.arange(tokens.size(1)) >= lengths[:, None]] = 0
    return chars


def test_character_encoder_reads_both_texts_and_padding_changes_nothing() -> None:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = DocumentReader(50, 0, 12, 8, dropout=0.0, word_chars=4, char_dim=3, char_filters=5,
                         char_kernel_size=3).eval()  # fmt: skip
    assert net.passage_encoder.rnn.input_size == 12 + 2 + 5  # + the char vector of the word
    assert net.question_encoder.rnn.input_size == 12 + 5
    passage, p_len, question, q_len, features = inputs(gen)
    p_chars, q_chars = char_inputs(gen, passage, p_len, 4), char_inputs(gen, question, q_len, 4)
    start, end = net(passage, p_len, question, q_len, features, p_chars, q_chars)
    alone = net(passage[1:2, :4], p_len[1:2], question[1:2, :2], q_len[1:2], features[1:2, :4],
                p_chars[1:2, :4], q_chars[1:2, :2])  # fmt: skip
    torch.testing.assert_close(alone[0][0], start[1, :4], atol=1e-5, rtol=1e-5)
    # The spelling is read: other characters for the same word ids give other scores, and the
    # question's vector (encode_texts) depends on its characters too.
    other = net(passage, p_len, question, q_len, features, p_chars.flip(2), q_chars)[0]
    assert not torch.allclose(other[~torch.isinf(other)], start[~torch.isinf(start)])
    vec = net.encode_texts(question, q_len, chars=q_chars)
    assert not torch.allclose(vec, net.encode_texts(question, q_len, chars=q_chars.flip(2)))


def test_a_character_reader_names_the_missing_characters() -> None:
    net = DocumentReader(50, 0, 12, 8, word_chars=4)
    passage, p_len, question, q_len, features = inputs(torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"reads 4 characters of each word.*not none"):
        net(passage, p_len, question, q_len, features)
    with pytest.raises(ValueError, match=r"shape \(3, 5, 4\).*not \(3, 5, 2\)"):
        net.encode_texts(question, q_len, chars=torch.zeros(3, 5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="model.word_chars=-1"):
        DocumentReader(50, word_chars=-1)
