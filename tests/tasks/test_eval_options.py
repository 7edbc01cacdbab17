"""eval.py's decoding options: how they change the checkpoint's task, which itself never changes."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from encdec import build
from encdec.cli.eval import task_overrides
from tests.support.behaviour_runs import LEGACY

SUMMARIES = LEGACY / "summarization_copy_coverage.ckpt"  # beam 2, min_length 10, no-repeat 3


def options(**given) -> OmegaConf:
    keys = ("beam_size", "length_penalty", "min_length", "no_repeat_ngram_size", "rouge_stemmer")
    return OmegaConf.create({k: given.get(k) for k in keys})


def decoding(path: Path, **given):
    return build.load_checkpoint(path, task_overrides=task_overrides(options(**given))).task


def test_val_is_decoded_with_the_test_beam_not_trainings_greedy_one() -> None:
    task = decoding(SUMMARIES, length_penalty=0.6)
    d = task.decoding
    assert (d.beam_size, d.val_beam_size, d.length_penalty) == (2, 2, 0.6)


def test_beam_size_on_the_command_line_wins_for_every_split() -> None:
    d = decoding(SUMMARIES, beam_size=1).decoding
    assert (d.beam_size, d.val_beam_size, d.length_penalty) == (1, 1, 1.0)


def test_summary_options_override_only_when_given() -> None:
    task = decoding(SUMMARIES, min_length=5, rouge_stemmer=False)
    d = task.decoding
    assert (d.min_length, d.no_repeat_ngram_size, task.metric.stemmer) == (5, 3, False)
    assert decoding(SUMMARIES).metric.stemmer is True  # the saved (version-2) rouge_stemmer


def test_a_task_without_beam_search_is_left_alone() -> None:
    task = decoding(LEGACY / "qa.ckpt", beam_size=3, length_penalty=0.6)
    assert not hasattr(task, "decoding") and task.hparams.max_answer_len == 15


def test_a_bleu_checkpoint_ignores_the_rouge_option() -> None:
    task = decoding(LEGACY / "translation_lstm_bahdanau.ckpt", rouge_stemmer=False)
    assert type(task.metric).__name__ == "Bleu" and task.metric.tokenize == "13a"


def test_the_trained_task_is_copied_not_changed() -> None:
    task = build.load_checkpoint(SUMMARIES).task
    settings = task.decoding.replace(beam_size=7, length_penalty=None)
    assert (task.decoding.beam_size, settings.beam_size) == (2, 7)
    assert settings.length_penalty == task.decoding.length_penalty
