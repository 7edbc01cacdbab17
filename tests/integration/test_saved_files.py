"""A saved file is data, never a choice of place, code or size (issue 31, findings 1, 2, 4-7):
crafted checkpoints and model files are refused with one line, quickly, before anything is built
or allocated; no command writes over its own input; resume never reads a best-model path that
is not this run's own. Crafted files live in the scratch folder; nothing appears outside it."""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import encdec
from encdec import artifacts, average, build
from encdec.artifacts import SavedModel, same_file
from encdec.cli.train import own_best_checkpoint
from encdec.errors import CheckpointError, ConfigError, DataError, EncdecError
from encdec.trust import check_tokenizer_json, safe_data_config
from tests.integration.test_trust import CKPT, MODEL, ROOT, legit, run

FAST = 5.0  # seconds: a refusal reads metadata only


def save(package: dict[str, Any], path: Path) -> Path:
    torch.save(package, path)
    return path


def with_config(package: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy whose saved config has `changes` (dotted keys) applied."""
    package = copy.deepcopy(package)
    node = package["encdec"]["config"] if "encdec" in package else package["config"]
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = node
        for key in parents:
            target = target[key]
        target[last] = value
    return package


def with_tokenizer(package: dict[str, Any], edit: Any) -> dict[str, Any]:
    package = copy.deepcopy(package)
    saved = json.loads(package["encdec"]["tokenizer"])
    edit(saved)
    package["encdec"]["tokenizer"] = json.dumps(saved)
    return package


def refused(path: Path, match: str) -> str:
    start = time.monotonic()
    with pytest.raises(CheckpointError, match=match) as err:
        build.load_checkpoint(path, with_data=True)
    assert time.monotonic() - start < FAST
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


# -- one base class for every user-facing error --------------------------------------------------
def test_every_message_of_ours_has_one_base_and_a_foreign_value_error_is_not_one() -> None:
    assert all(issubclass(c, EncdecError) for c in (ConfigError, CheckpointError, DataError))
    assert not isinstance(json.JSONDecodeError("x", "", 0), EncdecError)
    assert issubclass(ConfigError, ValueError)  # code that caught ValueError still does


def test_the_record_round_trips() -> None:
    ckpt = build.read_checkpoint(CKPT)
    saved = ckpt["encdec"]
    assert isinstance(saved, SavedModel) and saved.version == artifacts.FORMAT_VERSION
    again = SavedModel.from_dict(saved.to_dict(), "again")
    assert again == saved


# -- finding 1: a saved config never chooses where data is read, written or downloaded from --------
def test_a_data_dir_climbing_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    crafted = with_config(
        legit(), **{"data.data_dir": "/work/shared/data/../../../usr/lib/python3/site-packages"}
    )
    path = save(crafted, tmp_path / "climb.ckpt")
    with pytest.raises(CheckpointError, match="leaves the data folder"):
        build.load_checkpoint(path, str(tmp_path / "data"), str(tmp_path / "cache"), with_data=True)


def test_a_climbing_data_dir_is_refused_whatever_root_the_file_was_saved_under(
    tmp_path: Path,
) -> None:
    """A root the climb does not start from must not turn `../x` into the plain name `x`."""
    with pytest.raises(CheckpointError, match="leaves the data folder"):
        safe_data_config(
            {"data_dir": "/elsewhere/data/../../../tmp/outside"},
            "/old/data",
            str(tmp_path),
            str(tmp_path / "c"),
            "x.ckpt",
        )


@pytest.mark.parametrize(
    "key, value, named",
    [
        ("data.splits", {"train": "train", "val": "val", "test": "../../../etc/passwd"}, None),
        # a version-2 file's pattern is the version-3 data source's (encdec.data.migrations)
        ("data.file_pattern", "/tmp/{split}.{lang}.pth", "data.source.pattern"),
        ("data.splits", {"train": "train", "val": "val", "test": "https://evil.example/x"}, None),
    ],
)
def test_a_file_name_outside_the_data_folder_is_refused(
    tmp_path: Path, key: str, value: Any, named: str | None
) -> None:
    path = save(with_config(legit(), **{key: value}), tmp_path / "files.ckpt")
    with pytest.raises(CheckpointError, match="not a file name inside the data folder") as err:
        build.load_checkpoint(path, str(tmp_path / "data"), str(tmp_path / "cache"), with_data=True)
    assert (named or key) in str(err.value) and "\n" not in str(err.value)


def test_a_version_3_data_source_is_checked_like_the_data_node(tmp_path: Path) -> None:
    """The data source's own node (and its fallback) may not choose a download or a folder."""
    loaded = build.load_checkpoint(CKPT)
    config = copy.deepcopy(loaded.task.checkpoint_extras.to_dict())
    config["config"]["data"]["source"]["download_url"] = "http://evil.example/"
    config["config"]["data"]["source"]["fallback"] = {
        "_target_": "encdec.data.sources.Hub",
        "name": "../../../etc",
    }
    package = {**torch.load(CKPT, weights_only=True), "encdec": config}
    path = save(package, tmp_path / "v3.ckpt")
    with pytest.raises(CheckpointError, match=r"data\.source\.fallback\.name=.*not a hub dataset"):
        build.load_checkpoint(path, str(tmp_path / "data"), str(tmp_path / "cache"), with_data=True)
    del config["config"]["data"]["source"]["fallback"]
    path = save({**package, "encdec": config}, tmp_path / "v3.ckpt")
    loaded = build.load_checkpoint(
        path, str(tmp_path / "data"), str(tmp_path / "cache"), with_data=True
    )
    assert loaded.datamodule.source.download_url is None


def test_a_file_name_the_user_gives_replaces_a_refused_one(tmp_path: Path) -> None:
    splits = {"train": "train", "val": "val", "test": "/etc/passwd"}
    path = save(with_config(legit(), **{"data.splits": splits}), tmp_path / "files.ckpt")
    loaded = build.load_checkpoint(
        path,
        str(tmp_path / "data"),
        str(tmp_path / "cache"),
        with_data=True,
        data_overrides={"splits": {"test": "test_2016_flickr"}},
    )
    assert loaded.datamodule.splits["test"] == "test_2016_flickr"


def test_saved_urls_and_folders_are_replaced_by_the_users(tmp_path: Path) -> None:
    crafted = with_config(
        legit(),
        **{
            "data.download_url": "http://evil.example/",
            "data.cache_dir": str(tmp_path / "theirs"),
            "data.data_dir": "/elsewhere/multi30k",
        },
    )
    path = save(crafted, tmp_path / "places.ckpt")
    loaded = build.load_checkpoint(
        path, str(tmp_path / "data"), str(tmp_path / "cache"), with_data=True
    )
    dm = loaded.datamodule
    assert dm.source.download_url is None
    assert Path(dm.cache_dir) == tmp_path / "cache"
    assert Path(dm.data_dir) == tmp_path / "data" / "multi30k"
    assert not (tmp_path / "theirs").exists()


def test_a_legit_checkpoints_corpus_folder_is_kept_under_the_users_root(tmp_path: Path) -> None:
    node = safe_data_config(
        {"data_dir": "/old/data/multi30k", "splits": {"test": "test_2016_flickr"}},
        "/old/data",
        str(tmp_path),
        str(tmp_path / "c"),
        "x.ckpt",
    )
    assert (
        node["data_dir"] == f"{tmp_path}/multi30k" and node["splits"]["test"] == "test_2016_flickr"
    )


@pytest.mark.slow
def test_eval_refuses_a_data_dir_that_leaves_the_data_root(tmp_path: Path, data_dir: Path) -> None:
    target = tmp_path / "outside"
    crafted = with_config(legit(), **{"data.data_dir": f"{data_dir}/../../../{target}"})
    path = save(crafted, tmp_path / "climb.ckpt")
    result = run(["eval.py", f"ckpt_path={path}", f"paths.log_dir={tmp_path}"], ROOT, data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "leaves the data folder" in output, output[-3000:]
    assert "Traceback" not in output and not target.exists()


# -- finding 2: no command writes over its own input ---------------------------------------------
def test_export_refuses_to_write_over_its_checkpoint_or_a_hard_link_of_it(tmp_path: Path) -> None:
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(CKPT.read_bytes())
    link = tmp_path / "link.pt"
    os.link(ckpt, link)
    before = ckpt.read_bytes()
    for out in (ckpt, link, tmp_path / "." / "last.ckpt"):
        with pytest.raises(CheckpointError, match="the same file"):
            build.export_model(ckpt, out)
    assert ckpt.read_bytes() == before


def test_average_refuses_an_output_that_is_one_of_its_inputs(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    a.write_bytes(CKPT.read_bytes())
    b.write_bytes(CKPT.read_bytes())
    link = tmp_path / "hard.ckpt"
    os.link(a, link)
    before = a.read_bytes()
    for out in (a, link):
        with pytest.raises(SystemExit, match="the same file"):
            average.main([str(b), str(a), "--out", str(out)])
    assert a.read_bytes() == before and same_file(a, link)


# -- finding 5: a tokenizer from a file is one encdec writes -------------------------------------
def test_a_huge_bpe_id_is_refused_quickly(tmp_path: Path) -> None:
    def huge(tok: dict) -> None:
        tok["model"]["vocab"]["zzz"] = 2_000_000_000

    refused(save(with_tokenizer(legit(), huge), tmp_path / "huge.ckpt"), "ids are not 0 to")


def test_a_foreign_pre_tokenizer_regex_is_refused(tmp_path: Path) -> None:
    def regex(tok: dict) -> None:
        tok["pre_tokenizer"] = {
            "type": "Split",
            "pattern": {"Regex": "(a+)+$"},
            "behavior": "Isolated",
            "invert": False,
        }

    refused(save(with_tokenizer(legit(), regex), tmp_path / "regex.ckpt"), "pre_tokenizer")


def test_a_tokenizer_without_pad_is_refused(tmp_path: Path) -> None:
    def no_pad(tok: dict) -> None:
        vocab = tok["model"]["vocab"]
        vocab["<nopad>"] = vocab.pop("<pad>")
        tok["added_tokens"] = [t for t in tok["added_tokens"] if t["content"] != "<pad>"]

    refused(save(with_tokenizer(legit(), no_pad), tmp_path / "nopad.ckpt"), "<pad> is not token 0")


def test_every_tokenizer_of_the_legacy_files_passes() -> None:
    for name in ("translation_lstm_bahdanau.ckpt", "summarization_copy_coverage.ckpt", "qa.ckpt"):
        check_tokenizer_json(legit(CKPT.parent / name)["encdec"]["tokenizer"], name)


# -- finding 6: malformed configs and weights, refused before anything is built -------------------
@pytest.mark.parametrize(
    "changes, match",
    [
        ({"task._partial_": True}, "task._partial_"),
        ({"task._recursive_": False}, "task._recursive_"),
        ({"model.hidden_dim": "???"}, "missing value"),
    ],
)
def test_hydra_keys_and_missing_values_are_refused(tmp_path: Path, changes: dict, match: str):
    refused(save(with_config(legit(), **changes), tmp_path / "bad.ckpt"), match)


def test_a_deeply_nested_config_is_refused_without_recursion_error(tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)  # only to write the file
    try:
        path = save(with_config(legit(), **{"trainer.plugins": deep}), tmp_path / "deep.ckpt")
    finally:
        sys.setrecursionlimit(limit)
    refused(path, "nested deeper than")


def test_weights_that_are_not_a_mapping_of_tensors_are_refused(tmp_path: Path) -> None:
    package = legit()
    package["state_dict"] = list(package["state_dict"].values())
    refused(save(package, tmp_path / "list.ckpt"), "not a mapping of names to tensors")


def test_a_large_config_with_small_weights_is_refused_before_allocating(tmp_path: Path) -> None:
    """hidden_dim=6000 would allocate ~2.7 GB; the shapes are compared on the meta device."""
    path = save(with_config(legit(), **{"model.hidden_dim": 6000}), tmp_path / "big.ckpt")
    message = refused(path, "do not fit the saved config")
    assert "the config builds (12000, 3000)" in message


def test_average_refuses_a_tensor_of_huge_declared_size(tmp_path: Path) -> None:
    package = legit()
    name = next(iter(package["state_dict"]))
    package["state_dict"][name] = torch.zeros(1).expand(10**11)  # 4 bytes on disk, 400 GB declared
    a = save(package, tmp_path / "a.ckpt")
    start = time.monotonic()
    with pytest.raises(SystemExit, match="elements"):
        average.main([str(a), str(CKPT), "--out", str(tmp_path / "out.ckpt")])
    assert time.monotonic() - start < FAST and not (tmp_path / "out.ckpt").exists()


def test_average_refuses_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    a = save(with_config(legit(), **{"model.hidden_dim": 64}), tmp_path / "a.ckpt")
    b = save(with_config(legit(), **{"model.hidden_dim": 64}), tmp_path / "b.ckpt")
    with pytest.raises(SystemExit, match="do not fit"):
        average.main([str(a), str(b), "--out", str(tmp_path / "out.ckpt")])


def test_a_crafted_model_file_is_refused_the_same_way(tmp_path: Path) -> None:
    package = legit(MODEL)
    package["config"]["task"]["_partial_"] = True
    with pytest.raises(CheckpointError, match="task._partial_"):
        encdec.load(str(save(package, tmp_path / "m.pt")))


# -- finding 7: resume never reads a best-model path that is not this run's own ------------------
def test_a_best_model_path_outside_the_run_is_forgotten(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    callback = ModelCheckpoint(dirpath=folder)
    trainer = SimpleNamespace(checkpoint_callback=callback)
    for foreign in ("/etc/passwd", str(folder / ".." / ".." / "x.ckpt"), str(folder / "none.ckpt")):
        callback.best_model_path = foreign
        assert own_best_checkpoint(trainer, folder) is None and callback.best_model_path == ""
    own = folder / "best.ckpt"
    own.write_bytes(b"")
    callback.best_model_path = str(own)
    assert own_best_checkpoint(trainer, folder) == own


@pytest.mark.slow
def test_resume_with_a_crafted_best_model_path_never_loads_it(tmp_path: Path, data_dir: Path):
    """A resumed checkpoint whose ModelCheckpoint state names a pickle: the final test scores
    this run's weights, and the pickle is never read."""
    from tests.integration.test_trust import Payload
    from tests.support.helpers import SMALL

    marker = tmp_path / "PWNED"
    pickle_file = tmp_path / "best.ckpt"
    torch.save({"x": Payload(marker)}, pickle_file)
    run_dir = tmp_path / "run"
    package = legit()
    for key, state in package["callbacks"].items():
        if key.startswith("ModelCheckpoint"):
            best = torch.tensor(1e9 if "'mode': 'max'" in key else -1e9)  # never beaten
            state.update(
                dirpath=str(run_dir / "checkpoints"),
                best_model_path=str(pickle_file),
                best_model_score=best,
                kth_best_model_path=str(pickle_file),
                kth_value=best,
                best_k_models={str(pickle_file): best},
            )
    resume = save(package, tmp_path / "resume.ckpt")
    args = ["train.py", *SMALL, "trainer.max_steps=22", f"resume={resume}"]
    result = run([*args, f"hydra.run.dir={run_dir}"], ROOT, data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "not a file in this run's" in output and not marker.exists()
