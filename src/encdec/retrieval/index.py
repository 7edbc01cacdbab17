"""A vector index over a passage collection: exact inner-product search, saved beside its passages.

Search is exact either way: faiss-cpu's `IndexFlatIP` where it is installed (the optional extra
`encdec[retrieval]`), else a matrix product and a partial sort in numpy; both return the same
passages (a test compares them). With unit vectors the inner product is the cosine.

On disk an index is a folder (by default `<passages file>.index/`) of two files, neither of which
can run code when read:
- `vectors.npy`: (N, D) float32, read with `np.load(allow_pickle=False)`;
- `index.json`: what the vectors mean: the hash of the weights that made them, the pooling, the
  size, and the passages file's SHA-256.
Vectors from another model, or another pooling, live in another space: searching them with this
model's questions returns confident nonsense, so loading refuses them with one line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from encdec.errors import CheckpointError
from encdec.retrieval.ranking import Ranking

FORMAT = "encdec-passage-index"
VERSION = 1
VECTORS, INFO = "vectors.npy", "index.json"
BACKENDS = ("auto", "exact", "faiss")
QUERY_BLOCK = 1024  # questions scored per matrix product: bounds the (block, N) scores in memory


class IndexFileError(CheckpointError):
    """A passage index that cannot be used here: missing, empty, damaged, or built by another
    model; the message names the folder and the fix."""


@dataclass(frozen=True)
class IndexInfo:
    """What an index's vectors mean.

    model_hash: `weights_hash` of the encoder that made them; pooling: its pooling name;
    dim, count: the vectors' shape; normalized: unit length; passages_sha256: of the passages
    file they were made from (empty when built in memory).
    """

    model_hash: str
    pooling: str
    dim: int
    count: int
    normalized: bool
    passages_sha256: str = ""


def weights_hash(weights: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a model's weights (names, dtypes, shapes, values), whatever file they came from:
    a checkpoint and the model file exported from it hash the same."""
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_index_path(passages: str | Path) -> Path:
    """Where the index of a passages file lives: beside it, `<name>.index/`."""
    passages = Path(passages)
    return passages.with_name(passages.name + ".index")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401, PLC0415 (optional dependency, encdec[retrieval])
    except ImportError:
        return False
    return True


class VectorIndex:
    """(N, D) passage vectors and what they mean; `search` returns each question's best k."""

    def __init__(self, vectors: np.ndarray, info: IndexInfo, backend: str = "auto") -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] == 0:
            raise IndexFileError(
                f"A passage index needs at least one passage vector, got shape {vectors.shape}: "
                f"index a non-empty passages file."
            )
        if (info.count, info.dim) != vectors.shape:
            raise IndexFileError(
                f"The index describes {info.count} vectors of size {info.dim} but holds "
                f"{vectors.shape}: rebuild it."
            )
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is not one of {list(BACKENDS)}.")
        if backend == "faiss" and not faiss_available():
            raise ValueError(
                "backend='faiss' needs faiss-cpu: pip install 'encdec[retrieval]', or use "
                "backend='exact' (the same results, in numpy)."
            )
        self.vectors, self.info = vectors, info
        use_faiss = backend == "faiss" or (backend == "auto" and faiss_available())
        self.backend = "faiss" if use_faiss else "exact"
        self._faiss = None
        if use_faiss:
            import faiss  # noqa: PLC0415 (optional dependency, encdec[retrieval])

            self._faiss = faiss.IndexFlatIP(info.dim)
            self._faiss.add(vectors)

    def __len__(self) -> int:
        return self.info.count

    def search(self, queries: np.ndarray, k: int) -> Ranking:
        """queries (Q, D) -> Ranking of depth min(k, N), highest inner product first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.info.dim:
            raise ValueError(f"Queries of shape {queries.shape}: expected (Q, {self.info.dim}).")
        k = min(k, self.info.count)
        if self._faiss is not None:
            scores, ids = self._faiss.search(queries, k)
            return Ranking(ids=ids.astype(np.int64), scores=scores)
        blocks = [
            self._exact(queries[i : i + QUERY_BLOCK], k)
            for i in range(0, len(queries), QUERY_BLOCK)
        ]
        if not blocks:
            return Ranking(np.zeros((0, k), np.int64), np.zeros((0, k), np.float32))
        return Ranking(
            np.concatenate([b.ids for b in blocks]), np.concatenate([b.scores for b in blocks])
        )

    def _exact(self, queries: np.ndarray, k: int) -> Ranking:
        scores = queries @ self.vectors.T  # (q, N)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (q, k), unordered
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        ids = np.take_along_axis(top, order, axis=1).astype(np.int64)
        return Ranking(ids=ids, scores=np.take_along_axis(top_scores, order, axis=1))

    def save(self, folder: str | Path) -> Path:
        """Write `vectors.npy` and `index.json` into `folder` (created); returns it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS, self.vectors, allow_pickle=False)
        record = {"format": FORMAT, "version": VERSION, **asdict(self.info)}
        (folder / INFO).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(
        cls, folder: str | Path, model_hash: str, pooling: str, backend: str = "auto"
    ) -> VectorIndex:
        """The index in `folder`, if it was made by the model whose `weights_hash` is
        `model_hash` with `pooling`; otherwise one IndexFileError line."""
        folder = Path(folder)
        info = read_info(folder)
        if info.model_hash != model_hash:
            raise IndexFileError(
                f"The index {folder} was built with another model (weights {info.model_hash[:12]}, "
                f"this model's are {model_hash[:12]}): its vectors mean nothing to this model. "
                f"Rebuild the index with this model."
            )
        if info.pooling != pooling:
            raise IndexFileError(
                f"The index {folder} holds pooling={info.pooling!r} vectors, not {pooling!r}: "
                f"search with pooling={info.pooling} or rebuild the index."
            )
        try:
            vectors = np.load(folder / VECTORS, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise IndexFileError(
                f"Cannot read {folder / VECTORS} ({err}): rebuild the index."
            ) from None
        if vectors.dtype != np.float32:
            raise IndexFileError(
                f"{folder / VECTORS} holds {vectors.dtype}, not float32: rebuild the index."
            )
        return cls(vectors, info, backend)


def read_info(folder: str | Path) -> IndexInfo:
    """The checked `index.json` of an index folder (one IndexFileError line when unusable)."""
    folder = Path(folder)
    if not (folder / INFO).is_file() or not (folder / VECTORS).is_file():
        raise IndexFileError(
            f"No passage index at {folder} (it needs {INFO} and {VECTORS}): build one over the "
            f"passages first, or give the folder that holds it."
        )
    try:
        record = json.loads((folder / INFO).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IndexFileError(f"Cannot read {folder / INFO} ({err}): rebuild the index.") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise IndexFileError(f"{folder / INFO} is not an encdec passage index: rebuild the index.")
    if record.get("version") != VERSION:
        raise IndexFileError(
            f"{folder / INFO} is index format version {record.get('version')!r}; this encdec "
            f"reads version {VERSION}: rebuild the index."
        )
    types = {
        "model_hash": str,
        "pooling": str,
        "dim": int,
        "count": int,
        "normalized": bool,
        "passages_sha256": str,
    }
    values: dict[str, Any] = {}  # each checked against `types` below
    for field in fields(IndexInfo):
        value = record.get(field.name)
        if type(value) is not types[field.name]:
            raise IndexFileError(
                f"{folder / INFO}: {field.name}={value!r} is not of type {types[field.name].__name__}: "
                f"rebuild the index."
            )
        values[field.name] = value
    if values["count"] <= 0:
        raise IndexFileError(
            f"The index {folder} is empty (0 passages): index a non-empty passages file."
        )
    return IndexInfo(**values)
