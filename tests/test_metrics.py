"""The metric objects a task is configured with score as the reference tools do: sacreBLEU's own
API for `Bleu`, Google's rouge-score for `Rouge`, the official SQuAD v1.1 rules for
`SquadMetrics`."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer, scoring

from encdec.errors import ConfigError
from encdec.metrics import Bleu, Rouge, SquadMetrics

HYPS = [
    "A man is riding a bicycle down the street.",
    "Two dogs are playing in the snow.",
    "The woman sings on a stage while people watch.",
]
REFS = [
    "A man rides his bicycle down a busy street.",
    "Two dogs play together in the deep snow.",
    "A woman is singing on stage as the crowd watches.",
]
OTHER_REFS = [
    "Someone cycles along the road.",
    "Dogs playing in snow.",
    "The singer performs for the watching people.",
]


@pytest.mark.parametrize("tokenize", ["13a", "intl", "char"])
def test_bleu_equals_sacrebleu(tokenize: str) -> None:
    score = Bleu(tokenize=tokenize)(HYPS, REFS)
    want = sacrebleu.corpus_bleu(HYPS, [REFS], tokenize=tokenize)
    assert score.values == {"bleu": pytest.approx(want.score, abs=1e-9)}
    assert score.progress_bar == ("bleu",)
    assert score.record["tokenize"] == tokenize and f"tok:{tokenize}" in score.record["signature"]


def test_an_unknown_bleu_tokenization_stops_when_built() -> None:
    with pytest.raises(ConfigError, match=r"task\.metric\.tokenize='chinese'.*zh"):
        Bleu(tokenize="chinese")


def rouge_score_f1(hyps: list[str], refs: list[list[str]], stemmer: bool) -> dict[str, float]:
    """rouge-score's F1 x 100, the best reference of each example, averaged over examples."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stemmer)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, rs in zip(hyps, refs, strict=True):
        per_ref: list[dict[str, scoring.Score]] = [scorer.score(r, hyp) for r in rs]
        for key in totals:
            totals[key] += max(s[key].fmeasure for s in per_ref)
    return {key: 100 * value / len(hyps) for key, value in totals.items()}


@pytest.mark.parametrize("stemmer", [True, False])
def test_rouge_equals_rouge_score(stemmer: bool) -> None:
    score = Rouge(stemmer=stemmer)(HYPS, REFS, [[r] for r in REFS])
    want = rouge_score_f1(HYPS, [[r] for r in REFS], stemmer)
    assert score.values == {k: pytest.approx(v, abs=1e-4) for k, v in want.items()}
    assert score.progress_bar == ("rouge1",) and score.record is None


def test_rouge_adds_multi_reference_figures_only_where_examples_have_several() -> None:
    every = [[r, o] for r, o in zip(REFS, OTHER_REFS, strict=True)]
    score = Rouge()(HYPS, REFS, every)
    first = rouge_score_f1(HYPS, [[r] for r in REFS], True)
    multi = rouge_score_f1(HYPS, every, True)
    for key in first:
        assert score.values[key] == pytest.approx(first[key], abs=1e-4)
        assert score.values[f"{key}_multi"] == pytest.approx(multi[key], abs=1e-4)
    assert score.values["rouge1_multi"] >= score.values["rouge1"]


def test_squad_metrics_follow_the_official_rules() -> None:
    references = {
        "q1": {"text": ["the Eiffel Tower", "Eiffel Tower"], "answer_start": [0, 4]},
        "q2": {"text": ["1889"], "answer_start": [10]},
        "q3": {"text": ["Gustave Eiffel's company"], "answer_start": [3]},
    }
    predictions = {"q1": "Eiffel Tower.", "q2": "in 1889", "q3": "a bridge"}
    score = SquadMetrics()(predictions, references)
    # q1 exact after normalisation (article, punctuation); q2 F1 2/3 (P 1/2, R 1); q3 nothing.
    assert score.values["em"] == pytest.approx(100 / 3)
    assert score.values["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert score.progress_bar == ("em", "f1")


def test_the_monitored_figure_is_one_the_metric_logs() -> None:
    assert (Bleu().monitor, Rouge().monitor, SquadMetrics().monitor) == ("bleu", "rouge1", "f1")
    assert Rouge(monitor="rougeL").monitor == "rougeL"
    with pytest.raises(ConfigError, match=r"task\.metric\.monitor='bleu': Rouge logs rouge1"):
        Rouge(monitor="bleu")
