"""The embed command: one vector per input line (plain text or JSON lines), .npy + ids or Arrow /
Parquet, equal to `encdec.load(...).encode`, and its mistakes as one line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import encdec
from encdec.cli.common import CONF_DIR, ROOT
from encdec.cli.embed import embed
from encdec.errors import ConfigError
from tests.support.helpers import QA_CKPT, TRANSLATION_MODEL

TEXTS = ["A man rides a bike.", "", "Two dogs play in the snow.", "Children."]


def config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("embed", overrides=list(overrides))


def test_plain_text_to_npy_equals_the_api(tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    source.write_bytes("\n".join(TEXTS).encode() + b"\n\xff latin-1\n")
    out = tmp_path / "vectors.npy"
    embed(config(f"model_file={TRANSLATION_MODEL}", f"input={source}", f"output={out}",
                 "batch_size=2"))  # fmt: skip
    vectors = np.load(out)
    expected = encdec.load(str(TRANSLATION_MODEL)).encode(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (5, expected.shape[1])
    torch.testing.assert_close(torch.from_numpy(vectors[:4]), expected, atol=1e-5, rtol=0)
    assert not vectors[4].any()  # not UTF-8: zeros, warned
    assert (tmp_path / "vectors.npy.ids.txt").read_text().split() == ["1", "2", "3", "4", "5"]
    packed = tmp_path / "texts.txt.gz"  # read through gzip: the same vectors
    packed.write_bytes(gzip.compress(source.read_bytes()))
    embed(config(f"model_file={TRANSLATION_MODEL}", f"input={packed}", f"output={tmp_path}/z.npy",
                 "batch_size=2"))  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), vectors)


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_json_lines_to_a_table_with_their_ids(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "texts.jsonl"
    rows = [{"id": "q1", "text": "Who wrote it?"}, {"id": 7, "text": "Where is it?"},
            {"text": "No id here."}]  # fmt: skip
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    out = tmp_path / f"vectors{suffix}"
    embed(config(f"ckpt_path={QA_CKPT}", f"input={source}", f"output={out}", "pooling=mean"))
    if suffix == ".parquet":
        table = pq.read_table(out)
    else:
        with pa.memory_map(str(out)) as f:
            table = pa.ipc.open_file(f).read_all()
    assert table.column("id").to_pylist() == ["q1", "7", "3", "4"]
    vectors = np.array(table.column("vector").to_pylist(), dtype=np.float32)
    expected = encdec.load(str(QA_CKPT)).encode([r["text"] for r in rows], pooling="mean")
    torch.testing.assert_close(torch.from_numpy(vectors[:3]), expected, atol=1e-5, rtol=0)
    assert not vectors[3].any()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["output=OUT.txt"], "give a file ending in .npy"),
        (["output=IN"], "give a file ending in .npy"),
        (["pooling=max"], "pooling='max' is not available"),
        (["side=passage"], "side='passage' is not available"),
        (["batch_size=0"], "batch_size=0 is not allowed"),
        (["model_file=null"], "give ckpt_path=<train.py checkpoint> or model_file="),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, overrides: list[str], message: str) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("A dog.\n")
    given = [f"model_file={TRANSLATION_MODEL}", f"input={source}", f"output={tmp_path}/v.npy"]
    given += [o.replace("OUT", str(tmp_path / "v")).replace("IN", str(source)) for o in overrides]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        embed(config(*given))


def test_never_over_the_input(tmp_path: Path) -> None:
    source = tmp_path / "texts.npy"  # a text file with an unlucky name
    source.write_text("A dog.\n")
    with pytest.raises(ConfigError, match="is the input file"):
        embed(config(f"model_file={TRANSLATION_MODEL}", f"input={source}", f"output={source}"))
    ids = tmp_path / "v.npy.ids.txt"
    ids.write_text("A dog.\n")
    with pytest.raises(ConfigError, match="would write its ids over the input"):
        embed(config(f"model_file={TRANSLATION_MODEL}", f"input={ids}", f"output={tmp_path}/v.npy"))
    assert source.read_text() == ids.read_text() == "A dog.\n"


@pytest.mark.slow
def test_embed_py_as_typed(tmp_path: Path) -> None:
    """The entry point as a user types it: exit 0 and the vectors; a missing input: one line."""
    source = tmp_path / "texts.txt"
    source.write_text("A dog runs.\nA cat sleeps.\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    common = [sys.executable, "embed.py", f"model_file={TRANSLATION_MODEL}",
              f"paths.log_dir={tmp_path}"]  # fmt: skip
    done = subprocess.run([*common, f"input={source}", f"output={tmp_path}/v.npy"], cwd=ROOT,
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert np.load(tmp_path / "v.npy").shape == (2, 32)
    missing = subprocess.run([*common, f"input={tmp_path}/none.txt", f"output={tmp_path}/w.npy"],
                             cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "none.txt: no such file" in missing.stderr
