"""eval.py's decoding options: how they override the checkpoint's."""

from __future__ import annotations

from lightning.fabric.utilities.data import AttributeDict
from omegaconf import OmegaConf

from encdec.cli.eval import apply_decoding_options


def saved() -> AttributeDict:
    return AttributeDict(beam_size=5, val_beam_size=1, length_penalty=1.0)


def test_val_is_decoded_with_the_test_beam_not_trainings_greedy_one() -> None:
    hparams = saved()
    apply_decoding_options(hparams, OmegaConf.create({"beam_size": None, "length_penalty": 0.6}))
    assert (hparams.beam_size, hparams.val_beam_size, hparams.length_penalty) == (5, 5, 0.6)


def test_beam_size_on_the_command_line_wins_for_every_split() -> None:
    hparams = saved()
    apply_decoding_options(hparams, OmegaConf.create({"beam_size": 1, "length_penalty": None}))
    assert (hparams.beam_size, hparams.val_beam_size, hparams.length_penalty) == (1, 1, 1.0)


def test_summary_options_override_only_when_given() -> None:
    hparams = AttributeDict(saved(), min_length=10, no_repeat_ngram_size=3, rouge_stemmer=True)
    given = {"min_length": 5, "no_repeat_ngram_size": None, "rouge_stemmer": False}
    apply_decoding_options(hparams, OmegaConf.create({"beam_size": None, **given}))
    got = (hparams.min_length, hparams.no_repeat_ngram_size, hparams.rouge_stemmer)
    assert got == (5, 3, False)  # no_repeat_ngram_size=null kept the checkpoint's 3


def test_a_task_without_beam_search_is_left_alone() -> None:
    hparams = AttributeDict(max_answer_len=15)  # the QA reader's options
    apply_decoding_options(hparams, OmegaConf.create({"beam_size": None, "length_penalty": None}))
    assert hparams == {"max_answer_len": 15}
