"""The downstream metrics: sacreBLEU, ROUGE-1/2/L and SQuAD exact match / F1."""

from __future__ import annotations

import sacrebleu
from torchmetrics.functional.text import rouge_score, squad

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU of detokenized outputs against one reference each (sacreBLEU's 13a)."""
    return sacrebleu.corpus_bleu(hypotheses, [references]).score


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
