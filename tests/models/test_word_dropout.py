"""Word dropout: whole vectors dropped in training, nothing in evaluation, in both of Seq2Seq's
embedding inputs, with no new weights (older model files load)."""

from __future__ import annotations

import pytest
import torch

from encdec.models.word_dropout import WordDropout
from tests.models.test_seq2seq import make_model, toy_batch


def test_each_token_is_kept_whole_and_scaled_or_dropped_whole() -> None:
    torch.manual_seed(0)
    layer = WordDropout(0.25).train()
    x = torch.rand(64, 50, 8) + 0.5  # no coordinate is zero
    y = layer(x)
    dropped = (y == 0).all(-1)  # (B, S)
    kept = ~dropped
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert not (y[kept] == 0).any()  # a kept token keeps every coordinate
    assert 0.2 < dropped.float().mean().item() < 0.3


def test_evaluation_and_zero_rate_change_nothing() -> None:
    x = torch.rand(3, 4, 5)
    assert torch.equal(WordDropout(0.5).eval()(x), x)
    assert torch.equal(WordDropout(0.0).train()(x), x)


@pytest.mark.parametrize("p", [1.0, -0.1, "0.1", True])
def test_a_rate_outside_zero_to_one_names_the_option(p: object) -> None:
    with pytest.raises(ValueError, match=r"model\.word_dropout=.*e\.g\. model\.word_dropout=0\.1"):
        WordDropout(p)  # type: ignore[arg-type]


def test_seq2seq_drops_source_and_target_words_in_training_only() -> None:
    plain = make_model(dropout=0.0)
    words = make_model(dropout=0.0, word_dropout=0.5)
    assert plain.state_dict().keys() == words.state_dict().keys()  # no new weights
    words.load_state_dict(plain.state_dict())
    src, lens, tgt_in = toy_batch([5, 3, 6], tgt_len=4)
    torch.testing.assert_close(
        words.eval()(src, lens, tgt_in)[0], plain.eval()(src, lens, tgt_in)[0]
    )

    words.train()
    calls: list[str] = []
    words.encoder.word_dropout.register_forward_hook(lambda *_: calls.append("source"))
    words.decoder.word_dropout.register_forward_hook(lambda *_: calls.append("target"))
    torch.manual_seed(3)
    trained = words(src, lens, tgt_in)[0]
    assert calls == ["source", "target"]
    assert not torch.allclose(trained, plain.eval()(src, lens, tgt_in)[0])
