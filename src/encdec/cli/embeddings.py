"""Pretrained embeddings at the start of training: the size from the file, then the matrix filled.

Only `train.py` reads the vectors file (it knows the tokenizer's vocabulary); a checkpoint holds
the filled matrix, so evaluation and prediction never need the file.
"""

from __future__ import annotations

from omegaconf import DictConfig
from tokenizers import Tokenizer
from torch import nn

from encdec.models.embedding import EmbeddingFileError, load_pretrained, sniff_format


def pretrained_path(model_cfg: DictConfig) -> str | None:
    return (model_cfg.get("embedding") or {}).get("pretrained")


def resolve_embedding_dim(model_cfg: DictConfig) -> None:
    """`model.embedding_dim=null` takes the dimension of the pretrained vectors."""
    if model_cfg.get("embedding_dim", 0) is not None:
        return  # a number: load_pretrained checks that the file agrees
    path = pretrained_path(model_cfg)
    if not path:
        raise EmbeddingFileError(
            "model.embedding_dim=null takes the size from model.embedding.pretrained, which is "
            "not set: give a number (model.embedding_dim=256) or a vectors file."
        )
    model_cfg.embedding_dim = sniff_format(path)[2]


def init_pretrained(net: nn.Module, tokenizer: Tokenizer, model_cfg: DictConfig) -> None:
    """Fill the network's embedding matrices from `model.embedding.pretrained`, if set."""
    path = pretrained_path(model_cfg)
    if path:
        load_pretrained(net.embeddings(), tokenizer.get_vocab(), path)
