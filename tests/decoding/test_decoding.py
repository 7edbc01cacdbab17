"""Greedy and beam search: agreement, batching invariance, budgets, attention, and an end-to-end fit."""

from __future__ import annotations

import pytest
import torch

from encdec.decoding import beam_search, greedy_decode
from encdec.models import BahdanauAttention, Seq2Seq, TransformerSeq2Seq

VOCAB, PAD, UNK, BOS, EOS = 30, 0, 1, 2, 3


def make_model(rnn_type: str = "lstm", seed: int = 0) -> Seq2Seq | TransformerSeq2Seq:
    """A random attentional model whose outputs vary in length.

    A freshly initialised model is nearly uniform, so it either always or never ends at once. The
    output layer is sharpened and the EOS row made larger so that EOS wins at some steps and not at
    others: hypotheses end at every length, some by EOS and some at their length budget. Like a
    trained model it never predicts PAD/UNK/BOS (a model that emits BOS is the model's fault;
    here a BOS in the output can only come from the search itself).
    """
    torch.manual_seed(seed)
    if rnn_type == "transformer":
        model = TransformerSeq2Seq(
            VOCAB, pad_id=PAD, embedding_dim=16, hidden_dim=16, num_heads=2, ff_dim=32, dropout=0.0
        )
        output = model.output
    else:
        model = Seq2Seq(
            VOCAB,
            pad_id=PAD,
            embedding_dim=16,
            hidden_dim=32,
            rnn_type=rnn_type,
            attention=BahdanauAttention,
            dropout=0.0,
        )
        output = model.decoder.output
    with torch.no_grad():
        output.weight.mul_(2.0)
        output.weight[EOS].mul_(4.0)
        output.bias[[PAD, UNK, BOS]] = -1e4
        if rnn_type == "transformer":  # its normalised outputs need a nudge to end at times
            output.bias[EOS] += 3.0
    return model.eval()


def make_batch(seed: int, batch: int = 8, max_len: int = 8):
    gen = torch.Generator().manual_seed(100 + seed)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    src = torch.randint(4, VOCAB, (batch, int(lengths.max())), generator=gen)
    src[torch.arange(src.size(1))[None, :] >= lengths[:, None]] = PAD
    return src, lengths, lengths + 4  # src, src_lengths, max output lengths


@torch.no_grad()
def model_score(
    model: Seq2Seq, src: torch.Tensor, length: int, tokens: list[int], eos: bool
) -> float:
    """Sum of log-probabilities of `tokens` (+ EOS) given one source sentence, by teacher forcing."""
    target = tokens + ([EOS] if eos else [])
    if not target:
        return 0.0
    tgt_in = torch.tensor([[BOS, *target[:-1]]])
    logits, _ = model(src[None, :length], torch.tensor([length]), tgt_in)
    log_probs = torch.log_softmax(logits[0], dim=-1)
    return float(log_probs[torch.arange(len(target)), torch.tensor(target)].sum())


def ended_by_eos(tokens: list[int], max_length: int) -> bool:
    """A hypothesis shorter than its budget must have stopped at EOS."""
    return len(tokens) < max_length


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "transformer"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_beam_size_one_is_greedy(rnn_type: str, seed: int) -> None:
    model = make_model(rnn_type, seed)
    src, lengths, max_lengths = make_batch(seed)
    greedy = greedy_decode(model, src, lengths, BOS, EOS, max_lengths)
    beam = beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=1)
    assert [h.tokens for h in beam] == [h.tokens for h in greedy]
    for b, g in zip(beam, greedy, strict=True):
        assert b.score == pytest.approx(g.score, abs=1e-4)


@pytest.mark.parametrize("rnn_type", ["lstm", "transformer"])
def test_decoding_model_produces_varied_outputs(rnn_type: str) -> None:
    """Guard for the tests here: outputs end by EOS at various lengths and at the budget."""
    lengths_seen, by_eos, at_budget = set(), 0, 0
    for seed in range(4):
        model = make_model(rnn_type, seed)
        src, lengths, max_lengths = make_batch(seed)
        hyps = greedy_decode(model, src, lengths, BOS, EOS, max_lengths)
        for h, m in zip(hyps, max_lengths.tolist(), strict=True):
            lengths_seen.add(len(h.tokens))
            by_eos += ended_by_eos(h.tokens, m) and len(h.tokens) > 0
            at_budget += not ended_by_eos(h.tokens, m)
    assert len(lengths_seen) >= 5 and by_eos >= 3 and at_budget >= 3


@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "transformer"])
@pytest.mark.parametrize("decode", ["greedy", "beam"])
def test_batched_equals_one_by_one(rnn_type: str, decode: str) -> None:
    model = make_model(rnn_type, seed=2)
    src, lengths, max_lengths = make_batch(seed=2)

    def run(s, n, m):
        if decode == "greedy":
            return greedy_decode(model, s, n, BOS, EOS, m)
        return beam_search(model, s, n, BOS, EOS, m, beam_size=5)

    batched = run(src, lengths, max_lengths)
    for i, hyp in enumerate(batched):
        n = int(lengths[i])
        alone = run(src[i : i + 1, :n], lengths[i : i + 1], max_lengths[i : i + 1])[0]
        assert hyp.tokens == alone.tokens, f"sentence {i}"
        assert hyp.score == pytest.approx(alone.score, abs=1e-4)


@pytest.mark.parametrize("decode", ["greedy", "beam1", "beam4"])
@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "transformer"])
def test_budget_specials_scores_and_attention(decode: str, rnn_type: str) -> None:
    model = make_model(rnn_type, seed=3)
    src, lengths, _ = make_batch(seed=3)
    max_lengths = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8])
    if decode == "greedy":
        hyps = greedy_decode(model, src, lengths, BOS, EOS, max_lengths, return_attention=True)
    else:
        k = int(decode[4:])
        hyps = beam_search(
            model, src, lengths, BOS, EOS, max_lengths, beam_size=k, return_attention=True
        )
    assert len(hyps) == src.size(0)
    for i, h in enumerate(hyps):
        budget, n = int(max_lengths[i]), int(lengths[i])
        assert len(h.tokens) <= budget
        assert BOS not in h.tokens and EOS not in h.tokens
        eos = ended_by_eos(h.tokens, budget)
        # Rows: one per decoder step, i.e. one per token plus one for EOS when it ended by EOS.
        assert h.attention.shape == (len(h.tokens) + int(eos), n), f"sentence {i}"
        torch.testing.assert_close(h.attention.sum(-1), torch.ones(h.attention.size(0)))
        # The score is the model's log-probability of what was output (EOS included if emitted).
        assert h.score == pytest.approx(model_score(model, src[i], n, h.tokens, eos), abs=1e-4)


def test_return_attention_does_not_change_the_result() -> None:
    model = make_model("lstm", seed=1)
    src, lengths, max_lengths = make_batch(seed=1)
    for k in (1, 3):
        plain = beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=k)
        with_attn = beam_search(
            model, src, lengths, BOS, EOS, max_lengths, beam_size=k, return_attention=True
        )
        assert [h.tokens for h in plain] == [h.tokens for h in with_attn]
        assert all(h.attention is None for h in plain)


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_beam_scores_at_least_greedy(rnn_type: str) -> None:
    """Beam search (alpha=0) finds outputs the model scores at least as high as greedy's.

    This is not a theorem (greedy's prefix can fall out of the beam: lstm seed 3, sentence 3 here
    is such a case, and `test_beam_search_matches_reference` shows the search does what it should
    there), so it is checked per sentence with room for rare exceptions, and in total.
    """
    worse, better, total_gain = 0, 0, 0.0
    for seed in range(6):
        model = make_model(rnn_type, seed)
        src, lengths, max_lengths = make_batch(seed)
        greedy = greedy_decode(model, src, lengths, BOS, EOS, max_lengths)
        beam = beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=5, alpha=0.0)
        for i, (g, b) in enumerate(zip(greedy, beam, strict=True)):
            n, m = int(lengths[i]), int(max_lengths[i])
            g_score = model_score(model, src[i], n, g.tokens, ended_by_eos(g.tokens, m))
            b_score = model_score(model, src[i], n, b.tokens, ended_by_eos(b.tokens, m))
            worse += b_score < g_score - 1e-4
            better += b_score > g_score + 1e-3
            total_gain += b_score - g_score
    assert worse <= 1  # of 48 sentences
    assert better >= 10 and total_gain > 0


def reference_beam_search(model, src, length, max_length, k):
    """A plain one-sentence beam search with the same rules (2K candidates, EOS among the first K
    finishes, stop when the best finished beats the best alive, or at the budget), one candidate
    at a time."""
    memory, state = model.encode(src[None, :length], torch.tensor([length]))
    beams, finished = [([], 0.0, state)], []
    for t in range(max_length + 1):
        if t == max_length:
            finished += [(toks, score) for toks, score, _ in beams]
            break
        candidates = []
        for toks, score, st in beams:
            prev = torch.tensor([toks[-1] if toks else BOS])
            log_probs, _, new_state = model.step(prev, memory, st)
            candidates += [
                (score + float(lp), toks, v, new_state) for v, lp in enumerate(log_probs[0])
            ]
        candidates.sort(key=lambda c: -c[0])
        beams = []
        for rank, (score, toks, v, st) in enumerate(candidates[: 2 * k]):
            if v == EOS:
                if rank < k:
                    finished.append((toks, score))
            elif len(beams) < k:
                beams.append(([*toks, v], score, st))
        if finished and max(f[1] for f in finished) >= max(b[1] for b in beams):
            break
    return max(finished, key=lambda f: f[1])


@torch.no_grad()
@pytest.mark.parametrize(
    ("rnn_type", "seed", "k"),
    [("gru", 2, 2), ("gru", 2, 5), ("lstm", 3, 5), ("transformer", 1, 3)],
)
def test_beam_search_matches_reference(rnn_type: str, seed: int, k: int) -> None:
    model = make_model(rnn_type, seed)
    src, lengths, max_lengths = make_batch(seed)
    hyps = beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=k)
    for i, h in enumerate(hyps):
        tokens, score = reference_beam_search(
            model, src[i], int(lengths[i]), int(max_lengths[i]), k
        )
        assert h.tokens == tokens, f"sentence {i}"
        assert h.score == pytest.approx(score, abs=1e-4)


class ScriptedModel:
    """A step model whose log-probabilities depend on the previous token and the step only.

    Token 4 ("A") starts the best output A B B </s> (each step -0.1); token 6 ("J") starts junk
    that can end at once for -0.5 or repeat for -1.0. Every junk beam ends long before the best
    one, so a search that stops at K finished hypotheses returns junk.
    """

    V = 8

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        return _Rows(torch.zeros(src.size(0))), _Rows(torch.zeros(src.size(0)))

    def step(self, tokens: torch.Tensor, memory, state):
        t = int(state.values[0])
        rows = []
        for prev in tokens.tolist():
            lp = torch.full((self.V,), -10.0)
            if prev == BOS:
                lp[4], lp[6] = -0.1, -2.0
            elif prev == 4:
                lp[5], lp[EOS] = -0.1, -6.0
            elif prev == 5:
                lp[5 if t < 3 else EOS] = -0.1
            elif prev == 6:
                lp[EOS], lp[6] = -0.5, -1.0
            rows.append(lp)
        return torch.stack(rows), None, _Rows(state.values + 1)


class _Rows:
    def __init__(self, values: torch.Tensor) -> None:
        self.values = values

    def index_select(self, index: torch.Tensor) -> _Rows:
        return _Rows(self.values.index_select(0, index))


def test_beam_search_does_not_stop_while_the_best_beam_is_alive() -> None:
    src, lengths = torch.full((1, 3), 5), torch.tensor([3])
    greedy = greedy_decode(ScriptedModel(), src, lengths, BOS, EOS, torch.tensor([10]))
    beam = beam_search(ScriptedModel(), src, lengths, BOS, EOS, torch.tensor([10]), beam_size=2)
    assert greedy[0].tokens == beam[0].tokens == [4, 5, 5]
    assert beam[0].score == pytest.approx(-0.4)


def test_beam_size_zero_raises() -> None:
    model = make_model()
    src, lengths, max_lengths = make_batch(0)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=0)


def test_trained_model_decodes_its_training_data() -> None:
    """End to end: fit a reversal task on 4 fixed sequences, then decode them exactly."""
    torch.manual_seed(0)
    seqs = [[5, 9, 13, 7], [20, 4, 11], [8, 8, 25, 17, 6], [29, 14]]
    targets = [s[::-1] for s in seqs]
    n, s_max, t_max = len(seqs), max(map(len, seqs)), max(map(len, targets)) + 1
    src = torch.full((n, s_max), PAD)
    tgt_in = torch.full((n, t_max), PAD)
    tgt_out = torch.full((n, t_max), PAD)
    for i, (s, t) in enumerate(zip(seqs, targets, strict=True)):
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([BOS, *t])
        tgt_out[i, : len(t) + 1] = torch.tensor([*t, EOS])
    lengths = torch.tensor([len(s) for s in seqs])

    model = Seq2Seq(
        VOCAB, pad_id=PAD, embedding_dim=16, hidden_dim=32, attention=BahdanauAttention, dropout=0.0
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD)
    model.train()
    for _ in range(150):
        logits, _ = model(src, lengths, tgt_in)
        loss = loss_fn(logits.reshape(-1, VOCAB), tgt_out.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    budget = lengths + 5
    greedy = greedy_decode(model, src, lengths, BOS, EOS, budget)
    beam = beam_search(model, src, lengths, BOS, EOS, budget, beam_size=3)
    assert [h.tokens for h in greedy] == targets, f"final loss {loss.item():.3f}"
    assert [h.tokens for h in beam] == targets


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_the_n_best_list_ranks_what_finished_with_its_log_probabilities(alpha: float) -> None:
    """The best hypothesis carries the others that finished (`alternatives`), next best first;
    each one's log-probability is what the model gives its tokens (and EOS where it ended)."""
    model = make_model("lstm", 1)
    src, lengths, max_lengths = make_batch(1)
    for i, best in enumerate(
        beam_search(model, src, lengths, BOS, EOS, max_lengths, beam_size=4, alpha=alpha)
    ):
        ranked = [best, *best.alternatives]
        assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)
        n, m = int(lengths[i]), int(max_lengths[i])
        for hyp in ranked:
            expected = model_score(model, src[i], n, hyp.tokens, ended_by_eos(hyp.tokens, m))
            assert hyp.log_prob == pytest.approx(expected, abs=1e-4)
            if alpha == 0.0:
                assert hyp.score == pytest.approx(hyp.log_prob)
