"""The metric objects a task is configured with score as the reference tools do: sacreBLEU's own
API for `Bleu`, Google's rouge-score for `Rouge`, the official SQuAD v1.1 rules for
`SquadMetrics`."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer, scoring
from sacremoses import MosesPunctNormalizer, MosesTokenizer

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
    assert score.values["bleu"] == pytest.approx(want.score, abs=1e-9)
    assert score.progress_bar == ("bleu",)
    assert score.record["tokenize"] == tokenize and f"tok:{tokenize}" in score.record["signature"]


DE_HYPS = [
    "Ein Mann fährt mit dem Fahrrad die Straße hinunter.",
    "Zwei Hunde spielen im „tiefen“ Schnee.",
    "Die Frau singt auf einer Bühne, während Leute zusehen.",
]
DE_REFS = [
    "Ein Mann fährt sein Fahrrad eine belebte Straße hinunter.",
    "Zwei Hunde spielen zusammen im tiefen Schnee.",
    "Eine Frau singt auf der Bühne, während die Menge zusieht.",
]


def moses_lc(text: str, lang: str) -> str:
    """The Multi30k task1-tokenize.sh steps, with sacremoses: lower-case, normalise, tokenize."""
    normalized = MosesPunctNormalizer(lang=lang, perl_parity=True).normalize(text.lower())
    return MosesTokenizer(lang=lang).tokenize(normalized, escape=False, return_str=True)


def test_bleu_logs_the_lowercased_tokenized_bleu_beside_sacrebleu() -> None:
    score = Bleu(lang="de")(DE_HYPS, DE_REFS)
    tok_hyps, tok_refs = [moses_lc(h, "de") for h in DE_HYPS], [moses_lc(r, "de") for r in DE_REFS]
    assert tok_hyps[1] == 'zwei hunde spielen im " tiefen " schnee .'
    want = sacrebleu.corpus_bleu(tok_hyps, [tok_refs], tokenize="none", smooth_method="none")
    cased = sacrebleu.corpus_bleu(DE_HYPS, [DE_REFS])
    assert score.values == {
        "bleu": pytest.approx(cased.score, abs=1e-9),
        "bleu_lc_tok": pytest.approx(want.score, abs=1e-9),
    }
    assert score.values["bleu_lc_tok"] != pytest.approx(score.values["bleu"], abs=0.1)
    assert score.record["bleu_lc_tok"] == score.values["bleu_lc_tok"]
    assert "lang=de" in score.record["bleu_lc_tok_settings"]
    assert score.progress_bar == ("bleu",)


def test_the_translation_config_scores_lc_tok_bleu_in_the_target_language() -> None:
    from hydra.utils import instantiate

    from tests.support.helpers import compose_train

    default = compose_train([])
    assert instantiate(default.task.metric).lang == "de"  # Multi30k en->de
    node = "data.source" if "source" in default.data else "data"  # (the data layer's sources)
    cfg = compose_train([f"{node}.src_lang=de", f"{node}.tgt_lang=fr"])
    assert instantiate(cfg.task.metric).lang == "fr"


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
    assert set(score.values) == {*want, "rougeLsum"}  # one reference: no _multi/_mean/_best
    for key, value in want.items():
        assert score.values[key] == pytest.approx(value, abs=1e-4)
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


SUMMARY_HYPS = [
    "Person2 tells Person1 to see a doctor. Person1 feels sick!",
    "They agree to meet at the station at 5. Person1 will bring tickets.",
]
SUMMARY_REFS = [
    [
        "Person1 is sick. Person2 advises Person1 to go to a doctor.",
        "Person1 feels ill and Person2 suggests a doctor.",
        "Person2 says Person1 should see a doctor because Person1 is sick.",
    ],
    [
        "Person1 and Person2 will meet at the station. Person1 buys the tickets.",
        "They plan to meet at five at the station.",
        "Person1 will bring the tickets; they meet at the station at 5.",
    ],
]


def test_rouge_lsum_mean_and_best_equal_rouge_score_with_newline_split_sentences() -> None:
    keys = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(keys, use_stemmer=True)

    def lines(text: str) -> str:  # the sentences of these texts, one per line, by hand
        return text.replace(". ", ".\n").replace("! ", "!\n")

    per_example = [
        [scorer.score(lines(r), lines(h)) for r in refs]
        for h, refs in zip(SUMMARY_HYPS, SUMMARY_REFS, strict=True)
    ]
    first = [r[0] for r in SUMMARY_REFS]
    score = Rouge()(SUMMARY_HYPS, first, SUMMARY_REFS)
    for key in keys:
        f1 = [[s[key].fmeasure for s in scores] for scores in per_example]
        mean = 100 * sum(sum(f) / len(f) for f in f1) / len(f1)
        best = 100 * sum(max(f) for f in f1) / len(f1)
        assert score.values[f"{key}_mean"] == pytest.approx(mean)
        assert score.values[f"{key}_best"] == pytest.approx(best)
        if key != "rougeLsum":  # torchmetrics' best-of (today's _multi) is rouge-score's
            assert score.values[f"{key}_multi"] == pytest.approx(best, abs=1e-4)
    lsum_first = 100 * sum(s[0]["rougeLsum"].fmeasure for s in per_example) / len(per_example)
    assert score.values["rougeLsum"] == pytest.approx(lsum_first)
    assert score.values["rougeLsum"] != pytest.approx(score.values["rougeL"], abs=0.5)
    # against the first reference alone (validation): rougeLsum, no multi-reference figures
    single = Rouge()(SUMMARY_HYPS, first, [[r] for r in first])
    assert single.values["rougeLsum"] == pytest.approx(lsum_first)
    assert not any(k.endswith(("_multi", "_mean", "_best")) for k in single.values)


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
