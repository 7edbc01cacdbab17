"""Vector index: exact search == faiss == sorting all scores; saved and loaded without pickle;
refused with one line when missing, empty, damaged or made by another model or pooling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from encdec.errors import CheckpointError
from encdec.retrieval.index import (
    IndexFileError,
    IndexInfo,
    VectorIndex,
    default_index_path,
    faiss_available,
    weights_hash,
)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_index(n: int = 200, dim: int = 16, backend: str = "exact", model: str = "m" * 64):
    info = IndexInfo(model_hash=model, pooling="last", dim=dim, count=n, normalized=True)
    return VectorIndex(unit_vectors(n, dim, 0), info, backend=backend)


def test_exact_search_returns_the_best_k_in_order() -> None:
    index = make_index()
    queries = unit_vectors(30, 16, 1)
    ranking = index.search(queries, k=7)
    full = queries @ index.vectors.T
    expected = np.argsort(-full, axis=1)[:, :7]
    assert ranking.ids.dtype == np.int64 and ranking.ids.shape == (30, 7)
    assert (ranking.ids == expected).all()
    np.testing.assert_allclose(ranking.scores, np.take_along_axis(full, expected, 1), rtol=1e-6)
    assert (np.diff(ranking.scores, axis=1) <= 0).all()
    # More than the collection holds: all of it.
    assert index.search(queries[:2], k=1000).depth == 200


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_faiss_returns_the_same_as_exact_search() -> None:
    exact, flat = make_index(backend="exact"), make_index(backend="faiss")
    assert (exact.backend, flat.backend, make_index(backend="auto").backend) == (
        "exact",
        "faiss",
        "faiss",
    )
    queries = unit_vectors(50, 16, 2)
    a, b = exact.search(queries, k=20), flat.search(queries, k=20)
    assert (a.ids == b.ids).all()
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = make_index()
    folder = index.save(tmp_path / "passages.jsonl.index")
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "vectors.npy"]
    loaded = VectorIndex.load(folder, model_hash="m" * 64, pooling="last", backend="exact")
    assert loaded.info == index.info and np.array_equal(loaded.vectors, index.vectors)
    queries = unit_vectors(5, 16, 3)
    assert (loaded.search(queries, 5).ids == index.search(queries, 5).ids).all()


def test_another_model_or_pooling_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = make_index().save(tmp_path / "ix")
    with pytest.raises(
        CheckpointError,
        match=r"built with another model \(weights mmmmmmmmmmmm, this model's are aaaaaaaaaaaa\).*Rebuild",
    ) as err:
        VectorIndex.load(folder, model_hash="a" * 64, pooling="last")
    assert "\n" not in str(err.value)
    with pytest.raises(IndexFileError, match="pooling='last' vectors, not 'mean'"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="mean")


def test_missing_empty_or_damaged_index_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match=f"No passage index at {tmp_path / 'nowhere'}"):
        VectorIndex.load(tmp_path / "nowhere", model_hash="m" * 64, pooling="last")
    info = IndexInfo(model_hash="m", pooling="last", dim=4, count=0, normalized=True)
    with pytest.raises(IndexFileError, match="at least one passage vector"):
        VectorIndex(np.zeros((0, 4), np.float32), info)
    folder = make_index().save(tmp_path / "ix")
    record = json.loads((folder / "index.json").read_text())
    (folder / "index.json").write_text(json.dumps(record | {"count": 0}))
    with pytest.raises(IndexFileError, match="is empty"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")
    (folder / "index.json").write_text(json.dumps(record | {"count": "200"}))
    with pytest.raises(IndexFileError, match="count='200' is not of type int"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")
    (folder / "index.json").write_text(json.dumps(record | {"version": 9}))
    with pytest.raises(IndexFileError, match="version 9"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")
    (folder / "index.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="Cannot read"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")


def test_vectors_file_is_never_unpickled(tmp_path: Path) -> None:
    folder = make_index(n=2, dim=4).save(tmp_path / "ix")
    objects = np.empty((2, 4), dtype=object)  # an object array is stored as a pickle
    np.save(folder / "vectors.npy", objects, allow_pickle=True)
    with pytest.raises(IndexFileError, match="Cannot read .*vectors.npy.*allow_pickle"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")
    np.save(folder / "vectors.npy", np.zeros((2, 4), np.float64))
    with pytest.raises(IndexFileError, match="float64, not float32"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")
    np.save(folder / "vectors.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(IndexFileError, match=r"describes 2 vectors of size 4 but holds \(3, 4\)"):
        VectorIndex.load(folder, model_hash="m" * 64, pooling="last")


def test_weights_hash_follows_the_weights_not_the_object() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    same = torch.nn.Linear(3, 2)
    same.load_state_dict(model.state_dict())
    assert weights_hash(model) == weights_hash(same) == weights_hash(model.state_dict())
    assert len(weights_hash(model)) == 64
    with torch.no_grad():
        same.bias[0] += 1e-3
    assert weights_hash(same) != weights_hash(model)


def test_index_lives_beside_its_passages() -> None:
    assert default_index_path("/data/squad/passages.jsonl") == Path(
        "/data/squad/passages.jsonl.index"
    )


def test_without_faiss_auto_is_exact_and_faiss_is_one_line(monkeypatch) -> None:
    import encdec.retrieval.index as index_module

    monkeypatch.setattr(index_module, "faiss_available", lambda: False)
    assert make_index(backend="auto").backend == "exact"
    with pytest.raises(ValueError, match=r"needs faiss-cpu: pip install 'encdec\[retrieval\]'"):
        make_index(backend="faiss")
