"""The command line as a user types it: train, evaluate, sweep, and a bad data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from encdec.cli.common import ROOT
from tests.support.helpers import SMALL

# The CLI tests use the default logger (W&B, offline here) and the rich progress bar.
CLI_SMALL = [
    o for o in SMALL if not o.startswith(("logger=", "callbacks.", "trainer.enable_progress"))
]


def run(
    args: list[str],
    data_dir: Path,
    tmp_path: Path,
    stdin: str | None = None,
    wandb_mode: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a CLI as a user would, without a W&B login (so offline, unless `wandb_mode` says)."""
    env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir)}
    env.pop("WANDB_MODE", None)
    if wandb_mode:
        env["WANDB_MODE"] = wandb_mode
    env.pop("WANDB_API_KEY", None)
    return subprocess.run(
        [sys.executable, *args, f"paths.log_dir={tmp_path}", f"paths.cache_dir={ROOT / '.cache'}"],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only(paths: list[Path]) -> Path:
    assert len(paths) == 1, paths
    return paths[0]


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """`python train.py task=translation ...` once: (run folder, its metrics, the log folder)."""
    log_dir = tmp_path_factory.mktemp("cli")
    result = run(["train.py", "task=translation", *CLI_SMALL], data_dir, log_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/bleu" in result.stdout
    run_dir = only(list((log_dir / "outputs").glob("*/*")))  # outputs/<date>/<time>
    return run_dir, json.loads((run_dir / "metrics.json").read_text()), log_dir


def best_checkpoint(run_dir: Path) -> Path:
    return only([p for p in (run_dir / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"])


def test_train_writes_the_run_folder(trained: tuple[Path, dict, Path]) -> None:
    run_dir, metrics, _ = trained
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "config_resolved.yaml").is_file()
    assert (run_dir / "tokenizer.json").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert best_checkpoint(run_dir).name.startswith("epoch00-step2-bleu_")
    # Every evaluation's hypotheses, one line per example (the test ran on one batch).
    assert (run_dir / "predictions" / "val-epoch00.txt").is_file()
    assert len((run_dir / "predictions" / "test.txt").read_text().splitlines()) > 1
    wandb_run = only(list((run_dir / "wandb").glob("offline-run-*")))
    # The sample-translation tables reached the (offline) W&B run.
    for stage in ("val", "test"):
        table = only(
            list((wandb_run / "files" / "media" / "table" / stage).glob("samples_*.table.json"))
        )
        assert json.loads(table.read_text())["columns"] == ["source", "prediction", "reference"]
    assert {"train/loss", "val/loss", "val/ppl", "val/bleu", "test/bleu", "test/loss"} <= set(
        metrics
    )


def test_eval_reproduces_the_test_figures(trained: tuple[Path, dict, Path], data_dir: Path) -> None:
    run_dir, metrics, log_dir = trained
    # The run above tested on limit_test_batches=1: score the same batch.
    ckpt = best_checkpoint(run_dir)
    result = run(
        ["eval.py", f"ckpt_path={ckpt}", "trainer.limit_test_batches=1"], data_dir, log_dir
    )
    assert result.returncode == 0, result.stderr[-3000:]
    eval_dir = only(list((log_dir / "outputs" / "eval").glob("*/*")))  # never run_dir
    eval_metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert eval_metrics["test/bleu"] == pytest.approx(metrics["test/bleu"], abs=1e-6)
    assert eval_metrics["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)
    hyps = (eval_dir / "predictions" / "test.txt").read_text()
    assert hyps == (run_dir / "predictions" / "test.txt").read_text()


def test_predict_from_a_file_and_from_stdin(
    trained: tuple[Path, dict, Path], data_dir: Path, tmp_path: Path
) -> None:
    run_dir, _, log_dir = trained
    ckpt = best_checkpoint(run_dir)
    sentences = ["A man is riding a bike.", "", "Two dogs play in the snow."]
    source = tmp_path / "input.en"
    source.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    target = tmp_path / "output.de"
    args = ["predict.py", f"ckpt_path={ckpt}", "beam_size=2", "max_length=12"]
    from_file = run([*args, f"input={source}", f"output={target}"], data_dir, log_dir)
    assert from_file.returncode == 0, from_file.stderr[-3000:]
    outputs = target.read_text(encoding="utf-8").splitlines()
    assert len(outputs) == 3 and outputs[1] == ""  # one output per input line, empty stays empty
    assert outputs[0] and outputs[2]

    typed = run(args, data_dir, log_dir, stdin="\n".join(sentences) + "\n")
    assert typed.returncode == 0, typed.stderr[-3000:]
    assert typed.stdout.splitlines() == outputs  # the same answers, one per typed line


def test_a_missing_data_folder_is_a_clear_error(data_dir: Path, tmp_path: Path) -> None:
    result = run(
        ["train.py", "paths.data_dir=/no/such/folder", "data.source.download_url=null"],
        data_dir,
        tmp_path,
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "/no/such/folder/multi30k does not exist" in output
    assert "ENCDEC_DATA_DIR" in output
    assert "Traceback" not in output


def test_an_exported_model_translates_in_a_fresh_process(
    trained: tuple[Path, dict, Path], data_dir: Path, tmp_path: Path
) -> None:
    run_dir, _, log_dir = trained
    ckpt, model = best_checkpoint(run_dir), tmp_path / "model.pt"
    exported = run(["-m", "encdec.export", f"ckpt_path={ckpt}", f"out={model}"], data_dir, log_dir)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert not torch.load(model, weights_only=True).keys() - {
        "format",
        "version",
        "config",
        "tokenizer",
        "task_kind",
        "state_dict",
    }
    sentences = ["A man is riding a bike.", "Two dogs play in the snow."]
    source = tmp_path / "input.en"
    source.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    args = ["predict.py", f"ckpt_path={ckpt}", "beam_size=2", "max_length=12", f"input={source}"]
    predicted = run(args, data_dir, log_dir)
    assert predicted.returncode == 0, predicted.stderr[-3000:]

    code = (
        "import encdec, json, sys; model = encdec.load(sys.argv[1]); "
        "print(json.dumps(model.translate(json.loads(sys.argv[2]), beam_size=2, max_length=12)))"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(model), json.dumps(sentences)],
        cwd=tmp_path,  # nothing of the repository's folders is needed
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    translations = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert translations == predicted.stdout.splitlines()  # the same model, the same answers
    assert all(translations)


def test_predict_on_the_cpu_with_a_gpu_checkpoint(
    trained: tuple[Path, dict, Path], data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    """A checkpoint whose tensors are recorded on cuda:0, as a GPU run writes them."""
    run_dir, _, log_dir = trained
    ckpt = torch.load(best_checkpoint(run_dir), weights_only=True)
    gpu_ckpt = tmp_path / "gpu.ckpt"
    with monkeypatch.context() as m:  # tag every storage as CUDA, as saving from a GPU does
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(ckpt, gpu_ckpt)
    if not torch.cuda.is_available():  # the file really asks for a GPU unless mapped
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(gpu_ckpt, weights_only=True)
    args = ["predict.py", f"ckpt_path={gpu_ckpt}", "beam_size=2", "max_length=12"]
    result = run(args, data_dir, log_dir, stdin="A man is riding a bike.\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.splitlines()) == 1 and result.stdout.strip()


def test_average_checkpoints_gives_an_evaluable_mean(
    trained: tuple[Path, dict, Path], data_dir: Path, tmp_path: Path
) -> None:
    import torch

    run_dir, _, _ = trained
    inputs = [best_checkpoint(run_dir), run_dir / "checkpoints" / "last.ckpt"]
    # Perturb a copy so the mean differs from either input.
    shifted = torch.load(inputs[1], map_location="cpu", weights_only=True)
    shifted["state_dict"] = {
        k: v + 1 if v.is_floating_point() else v for k, v in shifted["state_dict"].items()
    }
    torch.save(shifted, tmp_path / "shifted.ckpt")
    inputs[1] = tmp_path / "shifted.ckpt"
    out = tmp_path / "avg.ckpt"
    result = subprocess.run(
        [sys.executable, "-m", "encdec.average", *map(str, inputs), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    first = torch.load(inputs[0], map_location="cpu", weights_only=True)["state_dict"]
    averaged = torch.load(out, map_location="cpu", weights_only=True)["state_dict"]
    for k, v in first.items():
        if v.is_floating_point():
            torch.testing.assert_close(averaged[k], (v + shifted["state_dict"][k]) / 2)
    evaluated = run(
        ["eval.py", f"ckpt_path={out}", "trainer.limit_test_batches=1"], data_dir, tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test/bleu" in evaluated.stdout


def test_average_refuses_checkpoints_of_different_models(tmp_path: Path) -> None:
    import torch

    from tests.support.behaviour_runs import LEGACY

    ckpt = torch.load(LEGACY / "translation_lstm_bahdanau.ckpt", weights_only=True)
    torch.save(ckpt, tmp_path / "a.ckpt")
    name = next(iter(ckpt["state_dict"]))
    ckpt["state_dict"][name] = torch.zeros(3)  # another shape: another model
    torch.save(ckpt, tmp_path / "b.ckpt")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "encdec.average",
            str(tmp_path / "a.ckpt"),
            str(tmp_path / "b.ckpt"),
            "--out",
            str(tmp_path / "c.ckpt"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "does not hold the same model" in result.stderr and "Traceback" not in result.stderr
