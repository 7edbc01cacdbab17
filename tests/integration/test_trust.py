"""A shared checkpoint or model file never runs code: crafted files are refused by every entry
point with a clear message, and the payload's marker file is never created. Legitimate files of
today and of earlier versions still load."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import encdec
from encdec import artifacts, build
from encdec.errors import CheckpointError
from tests.support.behaviour_runs import LEGACY
from tests.support.helpers import SMALL

ROOT = Path(__file__).resolve().parents[2]
CKPT = LEGACY / "translation_lstm_bahdanau.ckpt"
MODEL = LEGACY / "translation_lstm_bahdanau.pt"
REFUSED = "is not a class encdec builds"


class Payload:
    """What a hostile pickle carries: unpickling it would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


def legit(path: Path = CKPT) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def target_payloads(marker: Path) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """name -> (where in the saved config, the block put there)."""
    command = f"touch {marker}"
    return {
        "model os.system": (["model"], {"_target_": "os.system", "command": command}),
        "attention subprocess.Popen": (
            ["model", "attention"],
            {"_target_": "subprocess.Popen", "args": ["touch", str(marker)]},
        ),
        "task builtins.exec": (
            ["task"],
            {"_target_": "builtins.exec", "source": f"open({str(marker)!r}, 'w')"},
        ),
        "optimizer collect_env.run": (
            ["task", "optimizer"],
            {"_target_": "torch.utils.collect_env.run", "command": command},
        ),
        "scheduler os.system": (
            ["task", "scheduler"],
            {"_target_": "os.system", "_partial_": True, "command": command},
        ),
        "data os.system": (["data"], {"_target_": "os.system", "command": command}),
        "embedding os.system": (
            ["model", "embedding"],
            {"_target_": "os.system", "command": command},
        ),
        "nested in a list": (
            ["trainer", "plugins"],
            [{"_target_": "os.system", "command": command}],
        ),
    }


def with_config_block(package: dict[str, Any], where: list[str], block: Any) -> dict[str, Any]:
    package = copy.deepcopy(package)
    node = package["encdec"]["config"] if "encdec" in package else package["config"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = block
    return package


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def run(args: list[str], cwd: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


# -- the library: every payload, in-process ----------------------------------------------------
@pytest.mark.parametrize("name", list(target_payloads(Path("m"))))
def test_a_target_payload_in_a_checkpoint_is_refused(name: str, marker: Path, tmp_path: Path):
    where, block = target_payloads(marker)[name]
    path = tmp_path / "crafted.ckpt"
    torch.save(with_config_block(legit(), where, block), path)
    with pytest.raises(CheckpointError, match=REFUSED) as err:
        build.load_checkpoint(path, with_data=True)
    assert ".".join(where) in str(err.value) and "_target_" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("name", list(target_payloads(Path("m"))))
def test_a_target_payload_in_a_model_file_is_refused(name: str, marker: Path, tmp_path: Path):
    where, block = target_payloads(marker)[name]
    path = tmp_path / "model.pt"
    torch.save(with_config_block(legit(MODEL), where, block), path)
    with pytest.raises(CheckpointError, match=REFUSED):
        encdec.load(str(path))
    assert not marker.exists()


def test_a_pickle_payload_is_refused_unread(marker: Path, tmp_path: Path) -> None:
    path = tmp_path / "pickled.ckpt"
    torch.save({**legit(), "extra": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused unread"):
        build.read_checkpoint(path)
    with pytest.raises(CheckpointError, match="refused unread"):
        encdec.load(str(path))
    assert not marker.exists()


def test_an_interpolation_that_reads_the_environment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "env.ckpt"
    torch.save(with_config_block(legit(), ["data", "download_url"], "${oc.env:HOME}"), path)
    with pytest.raises(CheckpointError, match="interpolation"):
        build.load_checkpoint(path, with_data=True)


def test_a_model_file_of_another_version_gets_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.pt"
    model = encdec.load(str(MODEL))
    build.write_model_file(model.task, path)
    torch.save({**legit(path), "version": 99}, path)
    with pytest.raises(CheckpointError, match="format version 99; this encdec reads versions 1 to"):
        encdec.load(str(path))


def test_todays_model_file_round_trips(tmp_path: Path) -> None:
    """Written by today's code (version 2), read back: the same translations as the old file."""
    old = encdec.load(str(MODEL))
    path = build.export_model(CKPT, tmp_path / "model.pt")
    assert legit(path)["version"] == artifacts.FORMAT_VERSION
    lines = ["A man is riding a bike.", "Two dogs play in the snow."]
    assert encdec.load(str(path)).translate(lines) == old.translate(lines)


# -- the entry points ------------------------------------------------------------------------------
def crafted_checkpoint(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "crafted.ckpt"
    where, block = target_payloads(marker)["model os.system"]
    torch.save(with_config_block(legit(), where, block), path)
    return path


def pickled_checkpoint(tmp_path: Path, marker: Path) -> Path:
    path = tmp_path / "pickled.ckpt"
    torch.save({**legit(), "extra": Payload(marker)}, path)
    return path


ENTRY_POINTS = {
    "predict.py": lambda ckpt, tmp: ["predict.py", f"ckpt_path={ckpt}", f"input={tmp / 'in.txt'}"],
    "eval.py": lambda ckpt, tmp: ["eval.py", f"ckpt_path={ckpt}"],
    "export": lambda ckpt, tmp: ["-m", "encdec.export", f"ckpt_path={ckpt}", f"out={tmp / 'm.pt'}"],
    "average": lambda ckpt, tmp: ["-m", "encdec.average", str(ckpt), "--out", str(tmp / "a.ckpt")],
    "train.py resume=": lambda ckpt, tmp: [
        "train.py",
        *SMALL,
        f"resume={ckpt}",
        f"hydra.run.dir={tmp / 'run'}",
    ],
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("kind", ["_target_", "pickle"])
def test_every_entry_point_refuses_a_crafted_file(
    entry: str, kind: str, marker: Path, tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "in.txt").write_text("A man.\n")
    make = crafted_checkpoint if kind == "_target_" else pickled_checkpoint
    result = run(ENTRY_POINTS[entry](make(tmp_path, marker), tmp_path), ROOT, data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert (REFUSED if kind == "_target_" else "refused unread") in output, output[-3000:]
    assert "Traceback" not in output
    assert not marker.exists()
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "a.ckpt").exists()


def test_resume_with_another_tokenizer_is_refused_naming_it(tmp_path: Path, data_dir: Path):
    args = [
        "train.py",
        *SMALL,
        "data.tokenizer.vocab_size=450",
        f"resume={CKPT}",
        f"hydra.run.dir={tmp_path}",
    ]
    result = run(args, ROOT, data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "trained with another tokenizer" in output and "Traceback" not in output


def test_an_old_checkpoint_resumes(tmp_path: Path, data_dir: Path) -> None:
    """A checkpoint written before the redesign (20 steps) continues for two more steps."""
    args = [
        "train.py",
        *SMALL,
        "trainer.max_steps=22",
        "trainer.limit_train_batches=1.0",
        f"resume={CKPT}",
        f"hydra.run.dir={tmp_path}",
        "test=false",
    ]
    result = run(args, ROOT, data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 22 and resumed["encdec"]["version"] == artifacts.FORMAT_VERSION
