"""Pointer-generator copy and coverage: the mixture, the extended vocabulary, the coverage loss."""

from __future__ import annotations

import random

import pytest
import torch

from encdec.data.batching import Collator, Example
from encdec.data.copy_vocab import extend_ids
from encdec.data.tokenization import special_ids, train_bpe
from encdec.models import BahdanauAttention, LuongAttention, Seq2Seq
from encdec.models.decoder import copy_distribution
from encdec.models.loss import coverage_loss
from encdec.tasks import Seq2SeqTask

V, PAD, UNK, BOS, EOS = 20, 0, 1, 2, 3


def test_copy_distribution_sums_to_one_and_adds_attention_of_repeated_words() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, V)
    weights = torch.softmax(torch.randn(4, 5), dim=-1)
    src_ext = torch.tensor([[5, 20, 5, 21, 7]] * 4)  # 20, 21: source-only words
    p_gen = torch.tensor([[0.0], [0.3], [0.9], [1.0]])
    probs = copy_distribution(logits, weights, p_gen, src_ext, ext_size=22).exp()
    assert probs.shape == (4, 22)
    assert torch.allclose(probs.sum(-1), torch.ones(4), atol=1e-5)
    vocab = torch.softmax(logits, dim=-1)
    # p_gen = 1: exactly the vocabulary distribution, nothing on the extended ids.
    assert torch.allclose(probs[3, :V], vocab[3], atol=1e-6)
    assert probs[3, V:].max() < 1e-6
    # p_gen = 0: all mass on source words; word 5 appears twice and gets both weights.
    assert torch.allclose(probs[0, 5], weights[0, 0] + weights[0, 2], atol=1e-6)
    assert torch.allclose(probs[0, 20], weights[0, 1], atol=1e-6)
    # In between: the mixture.
    expected = 0.3 * vocab[1, 7] + 0.7 * weights[1, 4]
    assert torch.allclose(probs[1, 7], expected, atol=1e-6)


def make_net(copy: bool, coverage: bool, attention=BahdanauAttention, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(
        V, pad_id=PAD, embedding_dim=8, hidden_dim=16, attention=attention, dropout=0.0,
        copy=copy, coverage=coverage, unk_id=UNK,
    ).eval()  # fmt: skip


def test_network_with_copy_returns_a_distribution_over_the_extended_vocabulary() -> None:
    net = make_net(copy=True, coverage=True)
    src_ext = torch.tensor([[5, 21, 6, 20], [7, 8, 22, PAD]])
    src = src_ext.masked_fill(src_ext >= V, UNK)
    tgt_in = torch.tensor([[BOS, 5, 21], [BOS, 22, 8]])
    log_probs, weights = net(src, torch.tensor([4, 3]), tgt_in.clamp(max=V - 1), src_ext=src_ext)
    assert log_probs.shape == (2, 3, 23)  # V + 3 source-only words in the batch
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 3), atol=1e-5)
    assert weights.shape == (2, 3, 4) and weights[1, :, 3].abs().max() == 0  # padding
    # The second example has no word 20 / 21: they get no mass.
    assert log_probs[1, :, 20:22].exp().max() < 1e-6


@pytest.mark.parametrize("attention", [BahdanauAttention, LuongAttention])
def test_teacher_forcing_equals_step_by_step_with_copy_and_coverage(attention) -> None:
    net = make_net(copy=True, coverage=True, attention=attention)
    src_ext = torch.tensor([[5, 21, 6, 20], [7, 8, 22, PAD]])
    src = src_ext.masked_fill(src_ext >= V, UNK)
    lengths = torch.tensor([4, 3])
    tgt = torch.tensor([[BOS, 5, 21, 9], [BOS, 22, 8, 4]])
    full, weights = net(src, lengths, tgt.masked_fill(tgt >= V, UNK), src_ext=src_ext)
    memory, state = net.encode(src, lengths, src_ext)
    for t in range(tgt.size(1)):
        step, w, state = net.step(tgt[:, t], memory, state)  # extended ids are fed back as <unk>
        assert torch.allclose(step, full[:, t], atol=1e-5)
        assert torch.allclose(w, weights[:, t], atol=1e-6)
    assert torch.allclose(state.coverage, weights.sum(1), atol=1e-6)


@pytest.mark.parametrize("attention", [BahdanauAttention, LuongAttention])
def test_coverage_changes_the_attention(attention) -> None:
    torch.manual_seed(0)
    att = attention(query_dim=8, key_dim=8, coverage=True)
    with torch.no_grad():  # the learned coverage weights start at 0 / small: make them count
        for name, p in att.named_parameters():
            if "coverage" in name:
                p.fill_(-3.0)
    query, keys = torch.randn(2, 1, 8), torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.bool)
    _, fresh = att(query, keys, mask, coverage=torch.zeros(2, 5))
    covered = torch.zeros(2, 5)
    covered[:, 0] = 1.0
    _, after = att(query, keys, mask, coverage=covered)
    assert (after[:, 0, 0] < fresh[:, 0, 0]).all()  # attended before -> attended less now


def test_coverage_loss_by_hand() -> None:
    weights = torch.tensor([[[0.5, 0.5, 0.0], [0.25, 0.75, 0.0], [0.0, 0.0, 1.0]]])  # (1, 3, 3)
    # step 0: coverage 0 -> 0; step 1: c = (.5, .5, 0) -> .25 + .5 = .75; step 2: c = (.75, 1.25, 0)
    # -> 0.  The third step is padding in the second call.
    everything = torch.ones(1, 3, dtype=torch.bool)
    assert coverage_loss(weights, everything).item() == pytest.approx(0.75)
    weights2 = weights.clone()
    weights2[0, 2] = torch.tensor([0.5, 0.0, 0.5])  # c = (.75, 1.25, 0) -> min: .5
    assert coverage_loss(weights2, everything).item() == pytest.approx(1.25)
    assert coverage_loss(weights2, torch.tensor([[True, True, False]])).item() == pytest.approx(
        0.75
    )


def toy_task(net: Seq2Seq, tokenizer) -> Seq2SeqTask:
    return Seq2SeqTask(net, tokenizer, optimizer=lambda params: torch.optim.Adam(params, 1e-2))


FILLER = "the a cat dog sat ran on under mat tree big small red blue today".split()
GREEK = list("αβγδεζηθικλμνξοπρστυφχψω")


def copy_example(rng: random.Random, letters: list[str]) -> tuple[str, str]:
    """'<words> code <letter> <words>' -> '<letter>': the answer is a source-only word."""
    letter = rng.choice(letters)
    left = " ".join(rng.choices(FILLER, k=rng.randint(1, 4)))
    right = " ".join(rng.choices(FILLER, k=rng.randint(0, 3)))
    return f"{left} code {letter} {right}".strip(), letter


def test_a_source_only_word_is_copied_after_a_few_training_steps() -> None:
    rng = random.Random(0)
    tok = train_bpe([" ".join(FILLER + ["code"])] * 20, vocab_size=60, min_frequency=1)
    ids = special_ids(tok)
    vocab = tok.get_vocab_size()
    assert tok.token_to_id("α") is None  # Greek letters are outside the vocabulary

    def batch_of(pairs: list[tuple[str, str]]):
        examples = []
        for i, (src, tgt) in enumerate(pairs):
            s, t = (
                tok.encode(src, add_special_tokens=False),
                tok.encode(tgt, add_special_tokens=False),
            )
            s_ids, oov = extend_ids(s.ids, s.offsets, src, ids["unk"], vocab, [])
            t_ids, _ = extend_ids(t.ids, t.offsets, tgt, ids["unk"], vocab, oov, grow=False)
            examples.append(Example(i, s_ids, t_ids, src, tgt, [tgt], oov))
        return Collator(ids["pad"], ids["bos"], ids["eos"], vocab, ids["unk"])(examples)

    torch.manual_seed(0)
    net = Seq2Seq(
        vocab, pad_id=ids["pad"], embedding_dim=16, hidden_dim=32, attention=BahdanauAttention,
        dropout=0.0, copy=True, unk_id=ids["unk"],
    )  # fmt: skip
    task = toy_task(net, tok)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    train_letters, test_letters = GREEK[:16], GREEK[16:]  # test words were never seen in training
    for _ in range(150):
        batch = batch_of([copy_example(rng, train_letters) for _ in range(32)])
        assert (batch.tgt_out >= vocab).any()  # targets point at source-only words
        optimizer.zero_grad()
        loss = task.loss(batch, 0.0).cross_entropy
        loss.backward()
        optimizer.step()
    net.eval()
    test = batch_of([copy_example(rng, test_letters) for _ in range(16)])
    hyps = task.translate(test, beam_size=3)
    assert hyps == test.tgt_text, list(zip(hyps, test.tgt_text, strict=True))


def test_coverage_loss_is_zero_without_coverage_and_positive_with_it() -> None:
    tok = train_bpe(["a b c d e f g"] * 5, vocab_size=V, min_frequency=1)
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 11, PAD]])
    tgt_out = torch.tensor([[5, 6, 7, EOS], [9, 10, EOS, PAD]])
    tgt_in = torch.tensor([[BOS, 5, 6, 7], [BOS, 9, 10, PAD]])
    from encdec.data.batching import Batch

    batch = Batch(
        src, torch.tensor([4, 3]), tgt_in, tgt_out, torch.tensor([0, 1]), ["", ""], ["", ""]
    )
    for coverage in (False, True):
        task = toy_task(make_net(copy=False, coverage=coverage), tok)
        task.train()
        loss = task.training_step(batch, 0)
        assert torch.isfinite(loss)
        result = task.loss(batch, 0.0)
        if coverage:
            assert result.coverage.item() > 0
        else:
            assert result.coverage is None  # contributes nothing


def test_copy_or_coverage_without_attention_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="need attention"):
        Seq2Seq(V, attention=None, copy=True)
