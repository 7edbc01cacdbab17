"""Inference input line by line (encdec.inference.inputs), through `predict.py` and `Translator.translate`.

Tiny real checkpoints (an LSTM, a Transformer with model.max_positions=64, a QA reader) are
trained once per module. Each bad input goes through `input=FILE` and through stdin: one output
line per input line, every good line answered as when it is translated alone (stdin answers each
line alone), a warning naming each unusable line, exit status 0; bad options exit with status 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from encdec.cli.common import ROOT
from tests.integration.test_bad_input import assert_clear_error
from tests.integration.test_cli import run
from tests.support.helpers import QA_SMALL, SMALL

DECODING = ["beam_size=1", "max_length=12"]


def run_bytes(
    args: list[str], data_dir: Path, log_dir: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """`run`, with bytes in and out (so bad encodings and line endings reach the program as is)."""
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, *args, f"paths.log_dir={log_dir}", f"paths.cache_dir={ROOT / '.cache'}"],
        cwd=ROOT,
        env=env,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=600,
    )


def lines_of(data: bytes) -> list[str]:
    """Output lines, split on "\\n" only (as a consumer of predict.py would)."""
    text = data.decode("utf-8")
    assert text.endswith("\n") or not text, text
    return text.split("\n")[:-1]


def train(args: list[str], data_dir: Path, log_dir: Path, name: str) -> Path:
    result = run(["train.py", *args, f"run_name={name}"], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return log_dir / "outputs" / name / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("predict_input")


@pytest.fixture(scope="module")
def lstm(data_dir: Path, log_dir: Path) -> Path:
    return train(["task=translation", *SMALL], data_dir, log_dir, "lstm")


@pytest.fixture(scope="module")
def transformer(data_dir: Path, log_dir: Path) -> Path:
    args = ["task=translation", "model=transformer", "model.num_heads=2"]
    # Training pairs and outputs within the 64 positions.
    args += ["model.max_positions=64", "data.max_len=40", "task.decoding.max_len_cap=60"]
    return train([*args, *SMALL], data_dir, log_dir, "transformer")


@pytest.fixture(scope="module")
def reader(data_dir: Path, log_dir: Path) -> Path:
    return train(QA_SMALL, data_dir, log_dir, "reader")


def translate_alone(ckpt: Path, sentences: list[str], data_dir: Path, log_dir: Path) -> list[str]:
    """Each sentence translated on its own (stdin answers one line at a time)."""
    stdin = "".join(f"{s}\n" for s in sentences).encode()
    result = run_bytes(["predict.py", f"ckpt_path={ckpt}", *DECODING], data_dir, log_dir, stdin)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    outputs = lines_of(result.stdout)
    assert len(outputs) == len(sentences) and all(outputs), outputs
    return outputs


# -- translation: lines that cannot be used ------------------------------------------------------

#: (line as bytes, the warning it gets or None). The last line has no final newline.
MIXED: list[tuple[bytes, str | None]] = [
    (b"A man is riding a bike.", None),
    ("Über Brücken.".encode("latin-1"), "line 2: not valid UTF-8 (byte 0xdc at byte 1"),
    (b"   \t", None),  # whitespace only: an empty output, as an empty line
    (b"", None),
    ("\u200b\u200b".encode(), "line 5: holds only invisible characters (U+200B)"),
    ("Two dogs\u2028play in the snow.".encode(), None),  # one line: U+2028 is no line break
    (b"A girl is eating.\r", None),  # a Windows line ending
    (b"bad \xff\xfe bytes", "line 8: not valid UTF-8 (byte 0xff at byte 5"),
    (b"a surrogate \xed\xa0\x80 in CESU-8", "line 9: not valid UTF-8"),
    (b"Three people sit on a bench.", None),
]
GOOD = [0, 5, 6, 9]


@pytest.fixture(scope="module")
def mixed_expected(lstm: Path, data_dir: Path, log_dir: Path) -> list[str]:
    """The outputs MIXED must get: the good lines translated alone, "" for the others."""
    good = [MIXED[i][0].decode().removesuffix("\r") for i in GOOD]
    alone = dict(zip(GOOD, translate_alone(lstm, good, data_dir, log_dir), strict=True))
    return [alone.get(i, "") for i in range(len(MIXED))]


def check_mixed(result: subprocess.CompletedProcess, outputs: list[str], where: str, expected):
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert outputs == expected  # one line per input line, every good line answered
    for _, warning in MIXED:
        if warning is not None:
            assert f"{where}, {warning}" in stderr, stderr[-3000:]
    assert "iconv -f latin1 -t utf-8" in stderr
    assert ", line 3:" not in stderr and ", line 4:" not in stderr  # blank lines: no warning
    assert "4 input line(s) could not be used" in stderr


def test_bad_lines_from_a_file(lstm, mixed_expected, data_dir, log_dir, tmp_path) -> None:
    source, target = tmp_path / "input.txt", tmp_path / "output.txt"
    source.write_bytes(b"\n".join(line for line, _ in MIXED))  # no final newline
    args = ["predict.py", f"ckpt_path={lstm}", *DECODING, f"input={source}", "batch_size=3"]
    result = run_bytes([*args, f"output={target}"], data_dir, log_dir)
    check_mixed(result, lines_of(target.read_bytes()), str(source), mixed_expected)


def test_bad_lines_from_stdin(lstm, mixed_expected, data_dir, log_dir) -> None:
    stdin = b"".join(line + b"\n" for line, _ in MIXED)
    result = run_bytes(["predict.py", f"ckpt_path={lstm}", *DECODING], data_dir, log_dir, stdin)
    check_mixed(result, lines_of(result.stdout), "stdin", mixed_expected)


def test_stdin_is_answered_line_by_line(lstm: Path, data_dir: Path, log_dir: Path) -> None:
    """Each typed line is answered (and flushed) before the next one is read."""
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
    args = ["predict.py", f"ckpt_path={lstm}", *DECODING, f"paths.log_dir={log_dir}"]
    with subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:  # fmt: skip
        answers = []
        for line in (b"A man is riding a bike.\n", b"\xff\n", b"Two dogs play.\n"):
            proc.stdin.write(line)
            proc.stdin.flush()
            answers.append(proc.stdout.readline())  # would block without streaming
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0
    assert answers[0].strip() and answers[1] == b"\n" and answers[2].strip()


# -- translation: options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("beam_size=0", "beam_size=0 is not allowed: it must be a whole number from 1 to 64"),
        # The same rule for every option (encdec.inference.inputs); the API test checks each one fast.
        pytest.param(
            "beam_size=65",
            "beam_size=65 is not allowed: it must be a whole number from 1 to 64",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "max_length=1025",
            "max_length=1025 is not allowed: it must be a whole number from 1 to",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "batch_size=5000",
            "batch_size=5000 is not allowed: it must be a whole number from 1 to",
            marks=pytest.mark.slow,
        ),
        ("batch_size=two", "batch_size=two is not allowed"),
    ],
)
def test_an_option_out_of_range_stops_with_one_line(
    option: str, expected: str, lstm: Path, data_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "input.txt"
    source.write_text("A dog.\n", encoding="utf-8")
    for stdin in (None, b"A dog.\n"):  # input=FILE, then stdin
        extra = [f"input={source}"] if stdin is None else []
        result = run(["predict.py", f"ckpt_path={lstm}", option, *extra], data_dir, log_dir)
        assert_clear_error(result, expected)
        assert result.stdout == ""
        assert [line for line in result.stderr.splitlines() if expected in line]


def test_file_level_mistakes_stop_with_status_1(lstm, data_dir, log_dir, tmp_path) -> None:
    missing = run(["predict.py", f"ckpt_path={lstm}", "input=/no/such/file"], data_dir, log_dir)
    assert_clear_error(missing, "input=/no/such/file: no such file")
    source = tmp_path / "input.txt"
    source.write_text("A dog.\n", encoding="utf-8")
    same = run(
        ["predict.py", f"ckpt_path={lstm}", f"input={source}", f"output={source}"],
        data_dir,
        log_dir,
    )
    assert_clear_error(same, "is the input file")
    assert source.read_text(encoding="utf-8") == "A dog.\n"
    nowhere = run(
        ["predict.py", f"ckpt_path={lstm}", f"input={source}", "output=/no/such/dir/out.txt"],
        data_dir,
        log_dir,
    )
    assert_clear_error(nowhere, "output=/no/such/dir/out.txt: cannot write it")


# -- translation: over-long lines ------------------------------------------------------------------


def test_an_over_long_line_is_truncated_on_a_transformer(
    transformer: Path, data_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    good = ["A man is riding a bike.", "Two dogs play in the snow."]
    # max_length above max_positions: outputs stop at the model's 64 positions instead.
    args = ["predict.py", f"ckpt_path={transformer}", "beam_size=1", "max_length=1024"]
    alone = run_bytes(args, data_dir, log_dir, "".join(f"{g}\n" for g in good).encode())
    assert alone.returncode == 0, alone.stderr.decode()[-3000:]
    expected = lines_of(alone.stdout)
    assert len(expected) == 2 and all(expected)
    source = tmp_path / "input.txt"
    source.write_text(f"{good[0]}\n{' '.join(['dog'] * 600)}\n{good[1]}\n", encoding="utf-8")
    for where, extra, stdin in (
        (str(source), [f"input={source}"], None),
        ("stdin", [], source.read_bytes()),
    ):
        result = run_bytes([*args, *extra], data_dir, log_dir, stdin)
        stderr = result.stderr.decode()
        assert result.returncode == 0, stderr[-3000:]
        outputs = lines_of(result.stdout)
        assert len(outputs) == 3 and [outputs[0], outputs[2]] == expected, outputs
        assert f"{where}, line 2: " in stderr
        assert "more than the 64 this model reads: only the first 64 were used" in stderr
        assert "Traceback" not in stderr and ", line 1:" not in stderr


# -- the Python API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def translators(lstm: Path, transformer: Path):
    from encdec.build import load_checkpoint
    from encdec.inference.translator import Translator

    return {name: Translator(load_checkpoint(str(p)).task) for name, p in (("lstm", lstm), ("transformer", transformer))}  # fmt: skip


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"beam_size": 0}, "beam_size=0 is not allowed: it must be a whole number from 1 to 64"),
        ({"beam_size": 100}, "beam_size=100 is not allowed"),
        (
            {"max_length": 0},
            "max_length=0 is not allowed: it must be a whole number from 1 to 1024",
        ),
        ({"max_length": 2.5}, "max_length=2.5 is not allowed"),
        (
            {"batch_size": 0},
            "batch_size=0 is not allowed: it must be a whole number from 1 to 4096",
        ),
        ({"batch_size": None}, "batch_size=None is not allowed"),
    ],
)
def test_the_api_refuses_options_out_of_range(translators, options, expected) -> None:
    with pytest.raises(ValueError, match="^" + expected.replace(".", r"\.")):
        translators["lstm"].translate(["A dog."], **options)


def test_the_api_refuses_what_is_not_a_string(translators) -> None:
    model = translators["lstm"]
    with pytest.raises(ValueError, match=r"^sentences\[2\] is not a string but .* int"):
        model.translate(["A dog.", "A cat.", 3])
    with pytest.raises(ValueError, match=r"^sentences\[0\] is not a string but .* NoneType"):
        model.translate([None])
    with pytest.raises(ValueError, match="^sentences must be a string or a list of strings"):
        model.translate(b"A dog.")


def test_the_api_answers_unusable_sentences_with_empty_ones(translators) -> None:
    model = translators["lstm"]
    good = model.translate(["A dog.", "A cat."], beam_size=1, max_length=12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.translate(
            ["A dog.", "a\ud800", " ", "\u200b", "A cat."], beam_size=1, max_length=12
        )
    assert out == [good[0], "", "", "", good[1]]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert messages[0].startswith("sentences[1]: holds a lone surrogate (U+D800)")
    assert messages[1].startswith("sentences[3]: holds only invisible characters (U+200B)")
    assert all(w.filename == __file__ for w in caught)  # attributed to the caller


def test_the_api_truncates_over_long_sentences(translators) -> None:
    model = translators["transformer"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.translate(["A dog.", " ".join(["dog"] * 600)], beam_size=1, max_length=1024)
    assert len(out) == 2
    (warning,) = caught
    assert str(warning.message).startswith("sentences[1]: ")
    assert "more than the 64 this model reads" in str(warning.message)


# -- question answering ----------------------------------------------------------------------------

CONTEXT = "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara."
#: (JSON line as bytes, the error it gets or None).
QA_MIXED: list[tuple[bytes, str | None]] = [
    (json.dumps({"id": "a", "context": CONTEXT, "question": "When?"}).encode(), None),
    (b"not json", "not JSON (Expecting value at column 1)"),
    (b"[1, 2]", "not a JSON object but a list"),
    (b'{"question": "Why?"}', '"context" is missing'),
    (b'{"context": "  ", "question": "Why?"}', '"context" is empty'),
    (b'{"context": 5, "question": "Why?"}', '"context" is a number, not a string'),
    (b'{"context": "x", "question": null}', '"question" is missing'),
    (b'{"context": "a\\ud800b", "question": "Why?"}', '"context" holds a lone surrogate (U+D800)'),
    ('{"context": "\u200b\u200c", "question": "Why?"}'.encode(), '"context" holds only invisible'),
    (json.dumps({"context": CONTEXT}).encode("utf-16"), "not valid UTF-8"),
    (b"", "empty line"),
    (json.dumps({"id": 7, "context": CONTEXT, "question": "Where?"}).encode(), None),
]


def test_bad_questions_from_a_file_and_from_stdin(reader, data_dir, log_dir, tmp_path) -> None:
    good = [i for i, (_, error) in enumerate(QA_MIXED) if error is None]
    alone = run_bytes(
        ["predict.py", f"ckpt_path={reader}"],
        data_dir,
        log_dir,
        b"".join(QA_MIXED[i][0] + b"\n" for i in good),
    )
    assert alone.returncode == 0, alone.stderr.decode()[-3000:]
    expected_good = [json.loads(line) for line in lines_of(alone.stdout)]
    assert [row["id"] for row in expected_good] == ["a", 7]
    source, target = tmp_path / "questions.jsonl", tmp_path / "answers.jsonl"
    source.write_bytes(b"".join(line + b"\n" for line, _ in QA_MIXED))
    args = ["predict.py", f"ckpt_path={reader}"]
    from_file = run_bytes([*args, f"input={source}", f"output={target}", "batch_size=5"], data_dir, log_dir)  # fmt: skip
    typed = run_bytes(args, data_dir, log_dir, source.read_bytes())
    for where, result, out in (
        (str(source), from_file, target.read_bytes() if target.exists() else b""),
        ("stdin", typed, typed.stdout),
    ):
        stderr = result.stderr.decode()
        assert result.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
        rows = [json.loads(line) for line in lines_of(out)]
        assert len(rows) == len(QA_MIXED)
        assert [rows[i] for i in good] == expected_good  # as when answered alone
        for number, ((_, error), row) in enumerate(zip(QA_MIXED, rows, strict=True), start=1):
            if error is None:
                assert "error" not in row
                continue
            assert row["answer"] == "" and error in row["error"], row
            assert f"{where}, line {number}: {error}" in stderr, stderr[-3000:]
        assert rows[3]["question"] == "Why?" and rows[7]["question"] == "Why?"
        assert "10 input line(s) could not be answered" in stderr


def test_a_bad_command_line_question_stops_with_status_1(reader, data_dir, log_dir) -> None:
    result = run(["predict.py", f"ckpt_path={reader}", 'question="Why?"'], data_dir, log_dir)
    assert_clear_error(result, 'question=/context=: "context" is missing')
