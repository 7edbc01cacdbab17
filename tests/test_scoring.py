"""Literature-style scores against hand-computed values and the reference tools."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from encdec.metrics import squad_em_f1
from encdec.scoring import (
    literature_bleu,
    literature_tokenize,
    normalize_answer,
    rouge_multi,
    sentence_lines,
    squad_v11,
    token_f1,
)

# -- BLEU ------------------------------------------------------------------------------------------


def test_literature_tokenize_lowercases_normalizes_and_splits_as_the_multi30k_script() -> None:
    assert literature_tokenize("Zwei Männer, die am Ufer stehen.", "de") == (
        "zwei männer , die am ufer stehen ."
    )
    # normalize-punctuation: German low/high quotes -> ", the dash -> -; no aggressive hyphen split
    assert literature_tokenize("Ein „Hund“ läuft – im T-Shirt.", "de") == (
        'ein " hund " läuft - im t-shirt .'
    )
    assert literature_tokenize("A man's dog ", "en") == "a man 's dog"  # no &apos; escaping


def test_literature_bleu_matches_a_hand_computed_case() -> None:
    # tokens: hyp "ein mann fährt ein rotes fahrrad ." (7), ref "ein mann fährt ein fahrrad ." (6)
    # precisions 6/7, 4/6, 2/5, 1/4; no brevity penalty (7 > 6)
    hyp, ref = "Ein Mann fährt ein rotes Fahrrad.", "ein Mann fährt ein Fahrrad."
    expected = 100 * (6 / 7 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25
    assert literature_bleu([hyp], [ref], "de") == pytest.approx(expected, abs=1e-6)
    # cased, detokenized sacreBLEU sees "Ein" != "ein" and "Fahrrad." as it splits it: different
    assert sacrebleu.corpus_bleu([hyp], [[ref]]).score != pytest.approx(expected, abs=0.1)


def test_literature_bleu_equals_sacrebleu_none_on_pretokenized_lowercase_text() -> None:
    hyps = [
        "ein mann mit einem hut spielt gitarre .",
        "zwei hunde rennen durch den tiefen schnee .",
    ]
    refs = [
        "ein mann mit einem hut spielt eine gitarre .",
        "zwei hunde laufen durch den tiefen schnee .",
    ]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", smooth_method="none").score
    assert expected > 0
    assert literature_bleu(hyps, refs, "de") == pytest.approx(expected)


def test_literature_bleu_is_zero_without_a_four_gram_match_as_multi_bleu() -> None:
    assert literature_bleu(["ein hund ."], ["ein hund läuft ."], "de") == 0.0


def test_literature_bleu_refuses_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        literature_bleu(["a", "b"], ["a"], "en")


# -- ROUGE -----------------------------------------------------------------------------------------


def test_sentence_lines_splits_after_sentence_ends() -> None:
    text = 'Person1 is ill. "Go home!" says Person2? Yes.\nThey agree'
    assert sentence_lines(text) == 'Person1 is ill.\n"Go home!"\nsays Person2?\nYes.\nThey agree'
    assert sentence_lines("3.5 kg of rice") == "3.5 kg of rice"


def test_rouge_lsum_equals_rouge_scores_with_newline_split_sentences() -> None:
    hyp = "Person2 tells him to see a doctor. Person1 feels sick."  # the reference's order swapped
    ref = "Person1 is sick. Person2 advises Person1 to go to a doctor. They leave."
    scorer = rouge_scorer.RougeScorer(["rougeLsum", "rougeL"], use_stemmer=True)
    official = scorer.score(
        "Person1 is sick.\nPerson2 advises Person1 to go to a doctor.\nThey leave.",
        "Person2 tells him to see a doctor.\nPerson1 feels sick.",
    )
    ours = rouge_multi([hyp], [[ref]])
    assert ours["rougeLsum"] == pytest.approx(100 * official["rougeLsum"].fmeasure)
    assert ours["rougeL"] == pytest.approx(100 * official["rougeL"].fmeasure)
    assert ours["rougeLsum"] > ours["rougeL"] + 5  # Lsum matches each sentence, in any order


def test_rouge_lsum_matches_a_hand_computed_union_lcs() -> None:
    # ref sentences r1 = "a b c d", r2 = "e f"; hyp sentences h1 = "a b x", h2 = "c e f".
    # union LCS: r1 with h1 -> {a, b}, with h2 -> {c}: 3 words; r2 with h2 -> {e, f}: 2 words.
    # 5 hits; recall 5/6, precision 5/6, F1 5/6.
    ours = rouge_multi(["a b x. c e f."], [["a b c d. e f."]], stemmer=False)
    assert ours["rougeLsum"] == pytest.approx(100 * 5 / 6)


def test_rouge_multi_reports_first_mean_and_best_reference() -> None:
    hyp = ["the cat sat on the mat"]
    refs = [["a dog ran", "the cat sat on the mat", "the cat sat"]]
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    each = [scorer.score(r, hyp[0])["rouge1"].fmeasure for r in refs[0]]
    ours = rouge_multi(hyp, refs)
    assert ours["rouge1"] == pytest.approx(100 * each[0])
    assert ours["rouge1_mean"] == pytest.approx(100 * sum(each) / 3)
    assert ours["rouge1_best"] == pytest.approx(100.0)
    assert set(ours) == {
        f"{k}{s}"
        for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")
        for s in ("", "_mean", "_best")
    }


# -- SQuAD v1.1 ------------------------------------------------------------------------------------


def test_normalize_answer_and_f1_by_hand() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    # pred "denver broncos team", gold "denver broncos": p 2/3, r 1 -> F1 0.8
    assert token_f1("the Denver Broncos team", "Denver Broncos") == pytest.approx(0.8)
    assert token_f1("Carolina", "Denver Broncos") == 0.0


def test_squad_v11_counts_unanswered_questions_as_zero() -> None:
    answers = {"q1": ["Denver Broncos", "Broncos"], "q2": ["1990"]}
    scores = squad_v11(answers, {"q1": "broncos"})
    assert scores == {"exact_match": 50.0, "f1": 50.0}


def perturb(i: int, answer: str, context: str) -> str:
    """A deterministic, varied prediction for the i-th question."""
    words = answer.split()
    match i % 6:
        case 0:
            return answer
        case 1:
            return f"the {answer.upper()}."
        case 2:
            return " ".join(words[:1])
        case 3:
            return f"{answer} and more words"
        case 4:
            return context[: len(answer) + 10]
        case _:
            return ""


def test_encdec_em_f1_equal_the_official_evaluation_on_real_squad_dev(data_dir: Path) -> None:
    rows = []
    with (data_dir / "squad" / "validation.jsonl").open(encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == 500:
                break
    predictions = {
        r["id"]: perturb(i, r["answers"]["text"][i % len(r["answers"]["text"])], r["context"])
        for i, r in enumerate(rows)
    }
    official = squad_v11({r["id"]: r["answers"]["text"] for r in rows}, predictions)
    ours = squad_em_f1(predictions, {r["id"]: r["answers"] for r in rows})
    assert 20 < official["exact_match"] < official["f1"] < 90  # the perturbations vary the scores
    # torchmetrics sums in float32: equal to its precision
    assert ours["em"] == pytest.approx(official["exact_match"], rel=1e-6)
    assert ours["f1"] == pytest.approx(official["f1"], rel=1e-6)
    assert math.isfinite(ours["f1"])


def test_the_qa_tasks_metric_logs_the_official_em_f1_of_a_prediction_file(
    data_dir: Path, tmp_path: Path
) -> None:
    """The metric object task=qa is configured with, on a prediction file in the official
    {id: answer} format that QATask writes, gives evaluate-v1.1.py's figures."""
    from hydra.utils import instantiate

    from encdec.metrics import SquadMetrics
    from tests.support.helpers import compose_train

    metric = instantiate(compose_train(["task=qa"]).task.metric)
    assert isinstance(metric, SquadMetrics)
    rows = []
    with (data_dir / "squad" / "validation.jsonl").open(encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == 300:
                break
    file = tmp_path / "predictions.json"
    file.write_text(
        json.dumps(
            {
                r["id"]: perturb(i + 1, r["answers"]["text"][0], r["context"])
                for i, r in enumerate(rows)
            }
        )
    )
    predictions = json.loads(file.read_text())
    official = squad_v11({r["id"]: r["answers"]["text"] for r in rows}, predictions)
    score = metric(predictions, {r["id"]: r["answers"] for r in rows})
    assert 10 < official["exact_match"] < official["f1"] < 90
    assert score.values == {
        "em": pytest.approx(official["exact_match"], rel=1e-6),
        "f1": pytest.approx(official["f1"], rel=1e-6),
    }
