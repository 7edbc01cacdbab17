"""predict.py never destroys its input and never loses what it wrote (issue 31): an output that
is the input by another name (a hard link) is refused; a full disk or a closed pipe ends with one
line naming the output and exit status 1, the lines written before kept; a QA line that cannot be
parsed is one warning and one "error" line. Old checkpoints (no training needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from encdec.cli.common import ROOT
from tests.support.helpers import QA_CKPT, TRANSLATION_CKPT

#: Subprocess runs of the CLI or the server: `make test-slow`.
pytestmark = pytest.mark.slow

SENTENCES = "".join(f"A man number {i} is riding a bike.\n" for i in range(400)).encode()


def predict(args: list[str], tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "predict.py", *args, f"hydra.run.dir={tmp_path / 'hydra'}"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=600, **kwargs)


def one_error_line(stderr: bytes, *words: str) -> None:
    text = stderr.decode()
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in text.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and all(w in errors[0] for w in words), text[-3000:]


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "hydra" not in p.parts}


def test_an_output_hard_linked_to_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"A man is riding a bike.\n")
    link = tmp_path / "out.txt"
    os.link(source, link)  # the same file (device and inode) under another name
    before = files_in(tmp_path)
    result = predict(
        [f"ckpt_path={TRANSLATION_CKPT}", f"input={source}", f"output={link}"], tmp_path
    )
    assert result.returncode == 1
    one_error_line(result.stderr, f"output={link}", "is the input file")
    assert source.read_bytes() == b"A man is riding a bike.\n"  # nothing was erased
    assert files_in(tmp_path) == before and result.stdout == b""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"A man is riding a bike.\n")
    result = predict(
        [f"ckpt_path={TRANSLATION_CKPT}", f"input={source}", "output=/dev/full"], tmp_path
    )
    assert result.returncode == 1
    one_error_line(result.stderr, "output=/dev/full", "cannot write the predictions")


def test_a_closed_pipe_is_one_line_and_earlier_output_arrives(tmp_path: Path) -> None:
    """The reader of stdout goes away after the first line (as `| head -1` does)."""
    source = tmp_path / "in.txt"
    source.write_bytes(SENTENCES)
    command = [sys.executable, "predict.py", f"ckpt_path={TRANSLATION_CKPT}", f"input={source}"]
    command += ["batch_size=1", "beam_size=1", f"hydra.run.dir={tmp_path / 'hydra'}"]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
    )
    first = process.stdout.readline()  # flushed as soon as its batch was answered
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=600) == 1
    assert first.strip()
    one_error_line(stderr, "stdout", "cannot write the predictions")


def test_a_qa_line_with_a_number_too_long_for_python(tmp_path: Path) -> None:
    good = json.dumps({"id": "q", "context": "The cat sat on the mat.", "question": "Where?"})
    bad = '{"id": ' + "7" * 5000 + ', "context": "x", "question": "y"}'
    source = tmp_path / "qa.jsonl"
    source.write_text("\n".join([good] * 4 + [bad] + [good] * 5) + "\n")
    out = tmp_path / "answers.jsonl"
    result = predict([f"ckpt_path={QA_CKPT}", f"input={source}", f"output={out}"], tmp_path)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 10 and all(r["answer"] for i, r in enumerate(rows) if i != 4)
    assert rows[4]["answer"] == "" and "not JSON this reader can take" in rows[4]["error"]
    warned = [line for line in result.stderr.decode().splitlines() if ", line " in line]
    assert len(warned) == 1 and "line 5:" in warned[0]
