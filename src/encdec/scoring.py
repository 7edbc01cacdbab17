"""Scores computed as the papers compute them, so encdec's figures can be laid beside theirs.

Pure functions over lists of strings (metric objects wrap them): BLEU on lower-cased, Moses-
tokenized text as Multi30k papers report it; ROUGE against several references and ROUGE-Lsum
with one sentence per line; the official SQuAD v1.1 evaluation.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Mapping, Sequence
from functools import cache
from statistics import fmean

from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU
from sacremoses import MosesPunctNormalizer, MosesTokenizer

# -- BLEU as Multi30k papers report it -------------------------------------------------------------


@cache
def _moses(lang: str) -> tuple[MosesPunctNormalizer, MosesTokenizer]:
    return MosesPunctNormalizer(lang=lang, perl_parity=True), MosesTokenizer(lang=lang)


def literature_tokenize(text: str, lang: str) -> str:
    """`text` as the Multi30k `*.lc.norm.tok` files hold it, space-separated.

    The dataset's scripts/task1-tokenize.sh runs `lowercase.perl | normalize-punctuation.perl -l
    LANG | tokenizer.perl -l LANG` (Moses 3a0631a). The same steps here, with sacremoses: Python
    `str.lower()`, `MosesPunctNormalizer(lang, perl_parity=True)` (default options, as the perl
    script), then `MosesTokenizer(lang).tokenize(escape=False, aggressive_dash_splits=False)`:
    no `-a`, as the script; escape=False keeps `'` instead of `&apos;` (tokenizer.perl's default
    escaping maps characters one to one inside tokens, so BLEU is the same either way).
    """
    normalizer, tokenizer = _moses(lang)
    normalized = normalizer.normalize(text.lower())
    return tokenizer.tokenize(
        normalized, escape=False, aggressive_dash_splits=False, return_str=True
    ).strip()


def literature_bleu(hyps: Sequence[str], refs: Sequence[str], lang: str = "de") -> float:
    """Corpus BLEU (x 100) on lower-cased, Moses-tokenized text: multi-bleu.perl's figure.

    Both sides go through `literature_tokenize`, then sacreBLEU scores the tokens as they are:
    tokenize="none", smooth_method="none" (multi-bleu.perl: no smoothing, 0 when some n-gram
    order has no match), one reference per sentence. `lang` is the target language.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references: give one each.")
    bleu = BLEU(tokenize="none", smooth_method="none", force=True)
    tok_hyps = [literature_tokenize(h, lang) for h in hyps]
    tok_refs = [literature_tokenize(r, lang) for r in refs]
    return bleu.corpus_score(tok_hyps, [tok_refs]).score


# -- ROUGE: several references, summary-level L ---------------------------------------------------

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")

#: A sentence ends at . ! or ? (and one closing quote or bracket) followed by white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")


def sentence_lines(text: str) -> str:
    """`text` with one sentence per line, as ROUGE-Lsum reads summaries.

    A rule-based split (nltk's punkt needs data downloaded at run time): after . ! ? and one
    closing quote or bracket, at white space. Existing line breaks are kept.
    """
    lines = []
    for line in text.splitlines():
        lines += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return "\n".join(lines)


@cache
def _rouge(stemmer: bool) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=stemmer)


def rouge_multi(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], stemmer: bool = True
) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F1 x 100 with Google's `rouge-score` (the scorer named in reports).

    For each key three figures, averaged over the examples: `<key>` against the first reference
    (today's figure), `<key>_mean` the mean over each example's references, `<key>_best` the best
    reference of each example (rouge-score's score_multi). Hypotheses and references are split
    into sentences on lines (`sentence_lines`), which only rougeLsum reads. `stemmer`: Porter
    stemming, as DialogSum's baseline and rouge-score's use_stemmer=True.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} reference lists: give one each.")
    if any(not r for r in refs):
        raise ValueError("Every hypothesis needs at least one reference.")
    scorer = _rouge(stemmer)
    per_key: dict[str, list[float]] = collections.defaultdict(list)
    for hyp, example_refs in zip(hyps, refs, strict=True):
        hyp_lines = sentence_lines(hyp)
        scores = [scorer.score(sentence_lines(r), hyp_lines) for r in example_refs]
        for key in ROUGE_KEYS:
            f1 = [s[key].fmeasure for s in scores]
            per_key[key].append(f1[0])
            per_key[f"{key}_mean"].append(fmean(f1))
            per_key[f"{key}_best"].append(max(f1))
    return {k: 100.0 * fmean(v) if v else 0.0 for k, v in per_key.items()}


# -- the official SQuAD v1.1 evaluation -----------------------------------------------------------


_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, the articles a/an/the and extra white space (v1.1's rule)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(truth)


def token_f1(prediction: str, truth: str) -> float:
    """F1 of the normalized words (bag of words, counted with multiplicity)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_v11(
    answers: Mapping[str, Sequence[str]], predictions: Mapping[str, str]
) -> dict[str, float]:
    """{"exact_match", "f1"} x 100 as evaluate-v1.1.py computes them.

    `answers`: each question id of the dataset -> its ground-truth answer texts; `predictions`:
    id -> predicted text. Each question scores the max over its ground truths; the mean runs over
    every question of the dataset, an unanswered one scoring 0 (the script's rule).
    """
    if not answers:
        raise ValueError("No questions to evaluate.")
    em = f1 = 0.0
    for qid, truths in answers.items():
        if qid not in predictions:
            continue
        em += max(float(exact_match(predictions[qid], t)) for t in truths)
        f1 += max(token_f1(predictions[qid], t) for t in truths)
    return {"exact_match": 100.0 * em / len(answers), "f1": 100.0 * f1 / len(answers)}
