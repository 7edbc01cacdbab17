"""Mistakes a user makes on the command line, in the data and with checkpoints: each one ends with
a message naming the option or file, the bad value and the fix; exit status 1, no traceback."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from tests.integration.test_cli import run


def assert_clear_error(result, *expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    for text in expected:
        assert text in output, output[-3000:]


# -- config --------------------------------------------------------------------------------------

BAD_CONFIGS = {
    "unknown group option": (
        ["attention=bahdanu"],
        ["Could not find 'attention/bahdanu'", "Available options in 'attention'", "bahdanau"],
    ),
    "non-positive size": (
        ["model.hidden_dim=0"],
        ["model.hidden_dim=0 is not allowed", "positive whole number", "model.hidden_dim=256"],
    ),
    "beam size 0": (
        ["task.decoding.beam_size=0"],
        ["decoding.beam_size=0 is out of range", "a whole number from 1 to 64"],
    ),
    "unknown cell": (
        ["model.rnn_type=lstn"],
        ["Unknown rnn type 'lstn'", "choose one of ['gru', 'lstm', 'rnn']", "rnn=lstm"],
    ),
    "attention that cannot use the sizes": (
        ["attention=luong_dot", "model.encoder_hidden_dim=100"],
        ["attention=luong_dot", "decoder state size (512)", "encoder state size (200)"]
        + ["attention=luong_general"],
    ),
    "heads that cannot split the size": (
        ["model=transformer", "model.hidden_dim=100", "model.num_heads=3"],
        ["model.hidden_dim=100 (d_model) must be a multiple of model.num_heads=3"],
    ),
    "transformer for question answering": (
        ["task=qa", "model=transformer"],
        ["task=qa answers with a reader (model=reader)", "TransformerSeq2Seq"],
    ),
    "an option the model does not take": (
        ["model=transformer", "rnn=gru"],
        ["model.rnn_type: not an option of encdec.models.TransformerSeq2Seq", "num_heads"],
    ),
    "question-answering data for translation": (
        ["data=squad"],
        ["QADataModule holds questions for task=qa", "data=multi30k", "or choose task=qa"],
    ),
    "an option renamed in format version 3": (
        ["task.label_smoothing=0.2"],
        ["task.label_smoothing= was renamed: write task.loss.label_smoothing=... instead"],
    ),
    "an old spelling": (
        ["rnn=transformer", "task.beam_size=4"],
        ["rnn= was renamed: write model=transformer", "task.decoding.beam_size=... instead"],
    ),
    "missing data folder": (
        ["paths.data_dir=/no/such/folder", "data.source.download_url=null"],
        ["paths.data_dir", "/no/such/folder/multi30k does not exist", "ENCDEC_DATA_DIR"],
    ),
}


@pytest.mark.parametrize("mistake", list(BAD_CONFIGS))
def test_a_bad_config_gets_a_clear_message(mistake: str, data_dir: Path, tmp_path: Path) -> None:
    overrides, expected = BAD_CONFIGS[mistake]
    assert_clear_error(run(["train.py", *overrides], data_dir, tmp_path), *expected)


def test_predict_rejects_beam_size_0(tmp_path: Path, data_dir: Path) -> None:
    result = run(["predict.py", "ckpt_path=x.ckpt", "beam_size=0"], data_dir, tmp_path)
    assert_clear_error(result, "beam_size=0 is not allowed", "beam_size=5")


# -- data ----------------------------------------------------------------------------------------

FILES = [f"{s}.{lang}.gz" for s in ("train", "val", "test_2016_flickr") for lang in ("en", "de")]


def write_gz(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(data)


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data[: len(data) // 2])


BAD_DATA = {
    "truncated gzip": (
        lambda d: truncate(d / "train.en.gz"),
        ["train.en.gz, after line", "corrupt or truncated"],
    ),
    "wrong encoding": (
        lambda d: write_gz(d / "val.de.gz", "Ein Hund.\nÜber Brücken.\n".encode("latin-1")),
        ["val.de.gz, line 2: not valid UTF-8", "iconv"],
    ),
    "mismatched line counts": (
        lambda d: write_gz(d / "val.de.gz", b"Ein Hund.\n"),
        ["val.de.gz ends after line 1", "val.en.gz goes on (line 2)"],
    ),
    "empty split": (
        lambda d: [write_gz(d / f"test_2016_flickr.{lang}.gz", b"") for lang in ("en", "de")],
        ["test_2016_flickr.en.gz has no rows"],
    ),
}


@pytest.mark.parametrize("problem", list(BAD_DATA))
def test_bad_data_names_file_and_line(problem: str, data_dir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "data" / "multi30k"
    corpus.mkdir(parents=True)
    for name in FILES:
        shutil.copy(data_dir / "multi30k" / name, corpus / name)
    spoil, expected = BAD_DATA[problem]
    spoil(corpus)
    args = [
        "train.py",
        "data.limit_train=300",
        "data.tokenizer.vocab_size=500",
        "data.source.download_url=null",
    ]
    assert_clear_error(run(args, tmp_path / "data", tmp_path), *expected)


# -- checkpoints ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a checkpoint at all", "is not a readable checkpoint"),
        ({"state_dict": {}, "epoch": 0}, "was not written by encdec's train.py"),
    ],
)
def test_a_foreign_checkpoint_is_refused(
    content: bytes | dict, expected: str, data_dir: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "other.ckpt"
    if isinstance(content, bytes):
        ckpt.write_bytes(content)
    else:
        torch.save(content, ckpt)
    source = tmp_path / "x"
    source.write_text("A man.\n")  # the input is opened (and checked) before the model loads
    result = run(["predict.py", f"ckpt_path={ckpt}", f"input={source}"], data_dir, tmp_path)
    assert_clear_error(result, str(ckpt), expected)
