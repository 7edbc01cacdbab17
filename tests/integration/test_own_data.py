"""docs/own-data.md as a user runs it: every train / eval command of the page, verbatim (tiny-run
overrides appended), on files made from the shared data; the same Multi30k pairs through
data=text_pairs reach the built-in loader's metrics exactly; eval.py data.splits.test scores
another split as a run that named it at training time; DialogSum's hub fallback from the CLI;
format errors end in one line, exit 1."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from tests.integration.test_cli import best_checkpoint, only, run
from tests.support.helpers import SMALL
from tests.support.own_data_files import (
    dialogsum_hub_folder,
    dialogsum_tables,
    multi30k_saved,
    multi30k_tables,
)
from tests.test_docs_commands import code_blocks, logical_lines

# make test-slow (and CI): every own-data command trains from the CLI (~4 minutes).
pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "own-data.md"
#: Tiny runs; summaries also short (as tests/integration/test_cli_summarization.py).
TINY = {
    "translation": SMALL,
    "summarization": [*SMALL, "data.max_src_len=120", "task.decoding.max_len_cap=20"],
}
CHECKPOINT = "<best.ckpt>"


def tail(result) -> str:
    return (result.stdout + result.stderr)[-3000:]


def doc_commands() -> list[tuple[int, list[str]]]:
    """(line, argv after `python`) of every train.py / eval.py command of the page that runs
    offline (lines saying `needs internet` are left out)."""
    commands = []
    for start, body in code_blocks(DOC.read_text()):
        for number, line in logical_lines(start, body):
            if "needs internet" in line:
                continue
            words = shlex.split(line, comments=True)
            if words[:1] == ["python"] and words[1:2] in (["train.py"], ["eval.py"]):
                commands.append((number, words[1:]))
    return commands


def user_data(data_dir: Path, folder: Path) -> Path:
    """The files the page's examples name, in one data folder (Multi30k itself copied in: a
    link out of the data folder is refused, as any path leading out of it)."""
    folder.mkdir(exist_ok=True)
    shutil.copytree(data_dir / "multi30k", folder / "multi30k")
    multi30k_tables(data_dir, folder, "en", "fr")
    dialogsum_tables(data_dir, folder)
    multi30k_saved(data_dir, folder, "en", "de")
    return folder


def metrics_of(log_dir: Path, kind: str = "") -> tuple[Path, dict]:
    run_dir = only(list((log_dir / "outputs" / kind).glob("*/*")))
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def doc_runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every command of the page in order; an eval command gets the best checkpoint of the last
    train command above it that read files of the same kind (`.tsv`...) as its test set."""
    base = tmp_path_factory.mktemp("own_data")
    folder = user_data(data_dir, base / "data")
    runs: list[dict] = []
    for number, argv in doc_commands():
        log_dir = base / f"line{number}"
        if argv[0] == "train.py":
            task = next(a.split("=", 1)[1] for a in argv if a.startswith("task="))
            result = run([*argv, *TINY[task]], folder, log_dir)
        else:
            test = next(a for a in argv if a.startswith("data.splits.test="))
            kind = Path(test.split("=", 1)[1]).suffix
            trained = [r for r in runs if r["argv"][0] == "train.py" and "run_dir" in r]
            same = [r for r in trained if any(a.endswith(kind) for a in r["argv"])] or trained
            checkpoint = best_checkpoint(same[-1]["run_dir"])
            argv = [a.replace(CHECKPOINT, str(checkpoint)) for a in argv]
            result = run([*argv, "trainer.limit_test_batches=1"], folder, log_dir)
        entry = {"line": number, "argv": argv, "result": result}
        if result.returncode == 0:
            entry["run_dir"], entry["metrics"] = metrics_of(
                log_dir, "eval" if argv[0] == "eval.py" else ""
            )
        runs.append(entry)
    return runs


def test_every_command_of_the_page_runs(doc_runs: list[dict]) -> None:
    kinds = {
        (r["argv"][0], next((a for a in r["argv"] if a.startswith("data=")), "")) for r in doc_runs
    }
    assert ("train.py", "data=text_pairs") in kinds and ("train.py", "data=hf_pairs") in kinds
    assert any(r["argv"][0] == "eval.py" for r in doc_runs)
    for r in doc_runs:
        output = r["result"].stdout + r["result"].stderr
        assert r["result"].returncode == 0, f"own-data.md:{r['line']}: {output[-3000:]}"
        task = "test/rouge1" if "task=summarization" in r["argv"] else "test/bleu"
        assert task in r["metrics"], r["line"]


def test_summarization_from_csv_scores_all_references(doc_runs: list[dict]) -> None:
    (summ,) = [r for r in doc_runs if "task=summarization" in r["argv"]]
    assert summ["metrics"]["test/rouge1_multi"] >= summ["metrics"]["test/rouge1"]


def test_text_pairs_equal_the_builtin_loader(
    doc_runs: list[dict], data_dir: Path, tmp_path: Path
) -> None:
    """Multi30k en-de as plain file pairs (the page's example) == data=multi30k, same seed."""
    (pairs,) = [r for r in doc_runs if any("{lang}" in a for a in r["argv"])]
    builtin = run(["train.py", "task=translation", *SMALL], data_dir, tmp_path)
    assert builtin.returncode == 0, tail(builtin)
    _, metrics = metrics_of(tmp_path)

    def scores(m: dict) -> dict:  # everything but the timings
        return {k: v for k, v in m.items() if "per_sec" not in k and not k.startswith("time/")}

    assert "test/bleu" in metrics and scores(pairs["metrics"]) == scores(metrics)


def test_eval_scores_another_split_as_training_would(
    doc_runs: list[dict], data_dir: Path, tmp_path: Path
) -> None:
    """eval.py data.splits.test=val on a checkpoint == a run whose config named val as its test
    split (training does not read the test split, so both have the same weights)."""
    (pairs,) = [r for r in doc_runs if any("{lang}" in a for a in r["argv"])]
    ckpt = best_checkpoint(pairs["run_dir"])
    named = run(
        [*pairs["argv"], *SMALL, "data.splits.test='multi30k/val.{lang}.gz'"],
        data_dir,  # multi30k/ is there too
        tmp_path / "named",
    )
    assert named.returncode == 0, tail(named)
    _, trained = metrics_of(tmp_path / "named")
    evaluated = run(
        [
            "eval.py",
            f"ckpt_path={ckpt}",
            "data.splits.test='multi30k/val.{lang}.gz'",
            "trainer.limit_test_batches=1",
        ],
        data_dir,
        tmp_path / "eval",
    )
    assert evaluated.returncode == 0, tail(evaluated)
    eval_dir, scored = metrics_of(tmp_path / "eval", "eval")
    tests = {k: v for k, v in trained.items() if k.startswith("test/")}
    assert tests and {k: scored[k] for k in tests} == pytest.approx(tests, abs=1e-9)
    assert (eval_dir / "predictions" / "test.txt").read_text() == (
        next((tmp_path / "named" / "outputs").glob("*/*")) / "predictions" / "test.txt"
    ).read_text()


def test_eval_on_a_builtin_split_name(data_dir: Path, tmp_path: Path) -> None:
    """data=multi30k: data.splits.test=val (a split name) == training with it named."""
    named = run(
        ["train.py", "task=translation", *SMALL, "data.splits.test=val"], data_dir, tmp_path / "a"
    )
    assert named.returncode == 0, tail(named)
    _, trained = metrics_of(tmp_path / "a")
    plain = run(["train.py", "task=translation", *SMALL], data_dir, tmp_path / "b")
    assert plain.returncode == 0, tail(plain)
    run_dir, _ = metrics_of(tmp_path / "b")
    evaluated = run(
        ["eval.py", f"ckpt_path={best_checkpoint(run_dir)}", "data.splits.test=val",
         "trainer.limit_test_batches=1"],
        data_dir,
        tmp_path / "c",
    )  # fmt: skip
    assert evaluated.returncode == 0, tail(evaluated)
    _, scored = metrics_of(tmp_path / "c", "eval")
    assert scored["test/bleu"] == pytest.approx(trained["test/bleu"], abs=1e-9)


def test_summarization_falls_back_to_the_hub_copy(data_dir: Path, tmp_path: Path) -> None:
    """`python train.py task=summarization` with no local DialogSum: the hub copy's layout
    (simulated by a local folder, loaded through the same load_dataset call)."""
    hub = dialogsum_hub_folder(data_dir, tmp_path / "hub", limit=60)
    empty = tmp_path / "empty_data"
    empty.mkdir()
    result = run(
        [
            "train.py",
            "task=summarization",
            f"data.source.fallback.name={hub}",
            *TINY["summarization"],
        ],
        empty,
        tmp_path / "logs",
    )
    assert result.returncode == 0, tail(result)
    _, metrics = metrics_of(tmp_path / "logs")
    assert metrics["test/rouge1_multi"] >= metrics["test/rouge1"]


BAD_FILES = {
    "bad encoding": ("train.tsv", b"en\tfr\nok\tbien\ncaf\xe9\tx\n", "line 3: not valid UTF-8"),
    "missing column": ("train.tsv", b"en\tde\na\tb\n", "no column 'fr'"),
    "ragged row": ("train.tsv", b"en\tfr\na\tb\nc\td\te\n", "row 3 (line 3): 3 fields"),
    "empty split": ("train.tsv", b"en\tfr\n", "has no rows"),
    "wrong field name": (
        "train.jsonl",
        b'{"en": "a", "fr": "b"}\n{"en": "a"}\n',
        "line 2: no field 'fr'",
    ),
}


@pytest.mark.parametrize("case", [*BAD_FILES, "mismatched line counts"])
def test_a_format_error_is_one_line_and_exit_1(case: str, data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    if case == "mismatched line counts":
        (folder / "train.en").write_text("a\nb\nc\n")
        (folder / "train.fr").write_text("a\nb\n")
        train, expected = "data.splits.train=[train.en,train.fr]", "ends after line 2"
        where = folder / "train.fr"
    else:
        name, content, expected = BAD_FILES[case]
        (folder / name).write_bytes(content)
        train, where = f"data.splits.train={name}", folder / name
    fields = ["data.source.source_field=en", "data.source.target_field=fr"]
    result = run(
        ["train.py", "data=text_pairs", train, f"data.splits.val={train.split('=', 1)[1]}",
         f"data.splits.test={train.split('=', 1)[1]}", *fields, *SMALL],
        folder,
        tmp_path / "logs",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    (line,) = [x for x in output.splitlines() if expected in x]  # one line: file, line, fix
    assert str(where) in line, output[-2000:]
