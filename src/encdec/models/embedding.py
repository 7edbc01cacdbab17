"""Token embeddings initialised from pretrained word vectors (Word2Vec, GloVe), optionally frozen.

Files are read with gensim's `KeyedVectors.load_word2vec_format` in all three usual layouts:
Word2Vec text (a "count dim" header line, then "word v1 ... vD"), GloVe text (the same without the
header) and Word2Vec binary (the header, then each word followed by D raw float32). The layout is
recognised from the file itself; `.gz` files are read as they are.

Each token of the tokenizer's vocabulary takes the vector of the first of these the file holds:
the token itself, the token without its word-start mark '▁', that word lower-cased (GloVe files
are lower-case). Tokens the file lacks start from N(0, std of the found vectors); the padding row
is zero.
"""

from __future__ import annotations

import codecs
import gzip
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO

import torch
from torch import nn

from encdec.errors import EmbeddingFileError  # noqa: F401 (re-exported: its old home)

log = logging.getLogger(__name__)

WORD_START = "▁"  # the tokenizers' Metaspace mark (see encdec.data.tokenization)


def _open(path: Path) -> IO[bytes] | gzip.GzipFile:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def sniff_format(path: str | Path) -> tuple[bool, bool, int]:
    """(binary, has_header, dimension) of a vectors file, from its first bytes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Pretrained vectors not found: {path}. Set embeddings.vectors to a Word2Vec "
            f"or GloVe file (text or word2vec binary)."
        )
    with _open(path) as f:
        first = f.readline()
        rest = f.read(1 << 16)
    fields = first.split()
    if len(fields) == 2 and all(x.isdigit() for x in fields):  # "count dim": Word2Vec
        try:  # text is UTF-8; raw float32 bytes almost never are (final=False: a cut tail is fine)
            codecs.getincrementaldecoder("utf-8")().decode(rest, final=False)
            binary = b"\0" in rest
        except UnicodeDecodeError:
            binary = True
        return binary, True, int(fields[1])
    if len(fields) < 2:
        raise EmbeddingFileError(
            f"{path} is not a Word2Vec or GloVe vectors file: its first line is {first[:80]!r} "
            f"(expected 'count dim' or 'word v1 v2 ...'). Check embeddings.vectors."
        )
    return False, False, len(fields) - 1  # GloVe: "word v1 ... vD"


def read_vectors(path: str | Path):
    """The file's vectors as a gensim `KeyedVectors` (word -> float32 vector)."""
    from gensim.models import KeyedVectors  # noqa: PLC0415 (gensim: heavy, only with a vectors file)

    binary, header, _ = sniff_format(path)
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=not header)
    except (ValueError, EOFError, UnicodeDecodeError) as err:
        raise EmbeddingFileError(
            f"Could not read the vectors in {path} ({'binary' if binary else 'text'}, "
            f"{'with' if header else 'without'} a header line): {err}. Check "
            f"embeddings.vectors."
        ) from None


def candidates(token: str) -> list[str]:
    """Words of a vectors file that may stand for a vocabulary token, best first."""
    word = token.removeprefix(WORD_START) or token
    return list(dict.fromkeys([token, word, word.lower()]))


def pretrained_matrix(
    vocab: Mapping[str, int], vectors, pad_id: int | None
) -> tuple[torch.Tensor, list[str]]:
    """(V, D) matrix for a token -> id vocabulary, and the tokens the file has no vector for."""
    dim = vectors.vector_size
    matrix = torch.empty(len(vocab), dim)
    found, missing = [], []
    for token, i in vocab.items():
        word = next((w for w in candidates(token) if w in vectors.key_to_index), None)
        if word is None:
            missing.append(token)
        else:
            matrix[i] = torch.from_numpy(vectors[word].copy())
            found.append(i)
    std = float(matrix[found].std()) if len(found) > 1 else 1.0
    rows = [vocab[t] for t in missing]
    matrix[rows] = torch.randn(len(rows), dim) * std
    if pad_id is not None:
        matrix[pad_id] = 0.0
        missing = [t for t in missing if vocab[t] != pad_id]
    return matrix, missing


@torch.no_grad()
def load_pretrained(
    embeddings: Iterable[nn.Embedding], vocab: Mapping[str, int], path: str | Path
) -> list[str]:
    """Fill every embedding matrix with the file's vectors; returns the tokens it lacks.

    The matrices must already have the file's dimension (see `sniff_format`) and one row per
    vocabulary token.
    """
    embeddings = list(embeddings)
    _, _, dim = sniff_format(path)
    for emb in embeddings:
        if emb.embedding_dim != dim:
            raise EmbeddingFileError(
                f"model.embedding_dim={emb.embedding_dim}, but {path} holds {dim}-dimensional "
                f"vectors: set model.embedding_dim={dim} (or null to take it from the file)."
            )
        if emb.num_embeddings != len(vocab):
            raise ValueError(f"Embedding has {emb.num_embeddings} rows for {len(vocab)} tokens.")
    vectors = read_vectors(path)
    matrix, missing = pretrained_matrix(vocab, vectors, embeddings[0].padding_idx)
    for emb in embeddings:
        emb.weight.copy_(matrix)
    log.info(
        "Embeddings from %s: %d of %d tokens found, %d missing (random init), e.g. %s",
        path,
        len(vocab) - len(missing),
        len(vocab),
        len(missing),
        missing[:10],
    )
    return missing


def set_frozen(embeddings: Iterable[nn.Embedding], frozen: bool) -> None:
    """Exclude the embedding matrices from training (their gradients are never computed)."""
    for emb in embeddings:
        emb.weight.requires_grad_(not frozen)
