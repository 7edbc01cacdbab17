"""Batched beam search with beams folded into the batch and finished sentences dropped.

fairseq's scheme: each step takes the 2K best continuations over all K beams of a sentence;
those ending in EOS among the first K become finished hypotheses, the K best others stay alive.
A sentence is done when its best finished hypothesis scores at least as well as its best alive
beam does as it stands (the stopping heuristic of Hugging Face's beam search: log-probabilities
only fall as a beam grows), or when it reaches its maximum length (then its alive beams are
finished as they stand). fairseq's rule, "done at K finished", can stop while the best beam is
still alive and return K early-ending poor hypotheses instead. Finished sentences leave the
batch, so late steps only pay for the sentences still being decoded. With K = 1 this is exactly
greedy decoding.

For summaries: `min_length` forbids EOS before that many tokens, and `no_repeat_ngram_size` n
forbids any token that would repeat an n-gram already in the hypothesis (both off by default).
"""

from __future__ import annotations

import torch

from encdec.decoding.types import Hypothesis, StepModel


def block_repeated_ngrams(log_probs: torch.Tensor, history: torch.Tensor, n: int) -> None:
    """Set to -inf, in place, every next token that would complete an n-gram seen in `history`.

    log_probs (R, V); history (R, t) tokens so far. An n-gram is blocked when its first n-1
    tokens equal the last n-1 tokens of the row (the fairseq rule).
    """
    if n < 1 or history.size(1) < max(n - 1, 1):
        return
    if n == 1:  # every token already emitted
        log_probs.scatter_(1, history, float("-inf"))
        return
    if history.size(1) < n:  # no complete n-gram yet
        return
    grams = history.unfold(1, n, 1)  # (R, G, n): every n-gram so far
    suffix = history[:, history.size(1) - (n - 1) :]  # (R, n-1)
    match = (grams[:, :, :-1] == suffix.unsqueeze(1)).all(-1)  # (R, G)
    rows, which = match.nonzero(as_tuple=True)
    log_probs[rows, grams[rows, which, -1]] = float("-inf")


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + |Y|) / 6)^alpha; alpha = 0 ranks by raw log-probability."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: StepModel,
    src: torch.Tensor,
    src_lengths: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_lengths: torch.Tensor,
    beam_size: int = 5,
    alpha: float = 0.0,
    return_attention: bool = False,
    min_length: int = 0,
    no_repeat_ngram_size: int = 0,
    src_ext: torch.Tensor | None = None,
) -> list[Hypothesis]:
    """Return the best hypothesis of every sentence in the batch (in input order), the other
    hypotheses that finished in its `alternatives`, next best first (the n-best list).

    src_ext: the source in an extended vocabulary, for models that copy (passed to `encode`).
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}.")
    device = src.device
    batch, k = src.size(0), beam_size
    extra = {} if src_ext is None else {"src_ext": src_ext}
    memory, state = model.encode(src, src_lengths, **extra)
    expand = torch.arange(batch, device=device).repeat_interleave(k)
    memory, state = memory.index_select(expand), state.index_select(expand)

    active = torch.arange(batch, device=device)  # original index of each sentence still decoding
    max_lengths = max_lengths.to(device)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # only the first beam is live at the start
    tokens = torch.full((batch * k,), bos_id, dtype=torch.long, device=device)
    history = torch.empty(batch * k, 0, dtype=torch.long, device=device)  # (n*K, t)
    attn_history = None  # (n*K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    best_finished = [float("-inf")] * batch  # normalised score of each sentence's best finished
    ranks = torch.arange(2 * k, device=device)

    def finish(sentence: int, row: int, log_prob: float, t: int, extra_step: bool) -> None:
        """Record the hypothesis at flat row `row` of length t (+1 for the EOS step)."""
        attn = None
        if attn_history is not None:
            attn = attn_history[row, : t + int(extra_step), : int(src_lengths[sentence])].cpu()
        score = log_prob / length_penalty(t + int(extra_step), alpha)
        finished[sentence].append(Hypothesis(history[row].tolist(), score, attn, log_prob))
        best_finished[sentence] = max(best_finished[sentence], score)

    t = 0
    while active.numel() > 0:
        n = active.numel()
        # Sentences at their length budget: finish their alive beams as they stand.
        at_limit = (max_lengths[active] <= t).tolist()
        for i in [i for i, limit in enumerate(at_limit) if limit]:
            for b in range(k):
                if scores[i, b] > float("-inf"):
                    finish(int(active[i]), i * k + b, float(scores[i, b]), t, False)
        # Done: the best finished hypothesis beats every alive beam as it stands (length t).
        alive_best = (scores.max(dim=1).values / length_penalty(t, alpha)).tolist()
        keep = [
            i
            for i, limit in enumerate(at_limit)
            if not limit and best_finished[int(active[i])] < alive_best[i]
        ]
        if len(keep) < n:
            if not keep:
                break
            keep_t = torch.tensor(keep, device=device)
            rows = (keep_t[:, None] * k + torch.arange(k, device=device)).view(-1)
            active, scores = active[keep_t], scores[keep_t]
            memory, state = memory.index_select(rows), state.index_select(rows)
            tokens, history = tokens[rows], history[rows]
            attn_history = attn_history[rows] if attn_history is not None else None
            n = active.numel()

        log_probs, weights, state = model.step(tokens, memory, state)  # (n*K, V)
        if t < min_length:
            log_probs[:, eos_id] = float("-inf")
        if no_repeat_ngram_size:
            block_repeated_ngrams(log_probs, history, no_repeat_ngram_size)
        vocab = log_probs.size(-1)
        candidates = (scores.view(-1, 1) + log_probs).view(n, k * vocab)
        top_scores, top_idx = candidates.topk(2 * k, dim=-1)  # (n, 2K)
        beam_idx = torch.div(top_idx, vocab, rounding_mode="floor")
        top_tokens = top_idx % vocab
        is_eos = top_tokens == eos_id
        flat_beam = torch.arange(n, device=device)[:, None] * k + beam_idx  # (n, 2K) rows

        if return_attention and weights is not None:
            step_attn = weights.unsqueeze(1)
            attn_history = (
                step_attn if attn_history is None else torch.cat([attn_history, step_attn], 1)
            )

        # EOS among the first K candidates: a finished hypothesis.
        for i, r in (is_eos & (ranks < k)).nonzero().tolist():
            if top_scores[i, r] > float("-inf"):
                finish(int(active[i]), int(flat_beam[i, r]), float(top_scores[i, r]), t, True)

        # The K best non-EOS candidates stay alive (at most K of the 2K end in EOS).
        order = torch.sort(is_eos.to(torch.int8), dim=-1, stable=True).indices[:, :k]  # (n, K)
        scores = top_scores.gather(1, order)
        rows = flat_beam.gather(1, order).view(-1)
        tokens = top_tokens.gather(1, order).view(-1)
        state = state.index_select(rows)
        history = torch.cat([history[rows], tokens[:, None]], dim=1)
        if attn_history is not None:
            attn_history = attn_history[rows]
        t += 1

    best = []
    for hyps in finished:  # sorted is stable: of equal scores the first finished stays first
        ranked = sorted(hyps, key=lambda h: -h.score)
        ranked[0].alternatives = ranked[1:]
        best.append(ranked[0])
    return best
