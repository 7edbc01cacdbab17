"""Pretrained embeddings at the start of training: the size from the file, then the matrix filled.

Only `train.py` reads the vectors file (it knows the tokenizer's vocabulary) or, with
`model.embedding.word2vec`, trains it on the DataModule's training text first; a checkpoint holds
the filled matrix, so evaluation and prediction never need the file.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from torch import nn

from encdec.data.base import BucketedDataModule
from encdec.data.word2vec import Word2VecSettings, cached_word2vec
from encdec.models.embedding import EmbeddingFileError, load_pretrained, sniff_format


def pretrained_path(model_cfg: DictConfig) -> str | None:
    return (model_cfg.get("embedding") or {}).get("pretrained")


def word2vec_settings(model_cfg: DictConfig) -> Word2VecSettings | None:
    """`model.embedding.word2vec` as settings (None: off); it excludes a vectors file."""
    options = (model_cfg.get("embedding") or {}).get("word2vec")
    if options is None:
        return None
    if pretrained_path(model_cfg):
        raise EmbeddingFileError(
            "model.embedding.pretrained and model.embedding.word2vec are both set: the vectors "
            "come either from a file or from Word2Vec on the training text. Set one to null."
        )
    try:
        return Word2VecSettings(**OmegaConf.to_container(options))
    except TypeError as err:
        raise EmbeddingFileError(
            f"model.embedding.word2vec: {err}; the options are epochs, window, min_count, "
            f"workers, seed."
        ) from None


def resolve_embedding_dim(model_cfg: DictConfig) -> None:
    """`model.embedding_dim=null` takes the dimension of the pretrained vectors."""
    if model_cfg.get("embedding_dim", 0) is not None:
        return  # a number: load_pretrained checks that the file agrees
    path = pretrained_path(model_cfg)
    if not path:
        raise EmbeddingFileError(
            "model.embedding_dim=null takes the size from model.embedding.pretrained, which is "
            "not set: give a number (model.embedding_dim=256; model.embedding.word2vec needs "
            "one) or a vectors file."
        )
    model_cfg.embedding_dim = sniff_format(path)[2]


def init_pretrained(net: nn.Module, datamodule: BucketedDataModule, model_cfg: DictConfig) -> None:
    """Fill the network's embedding matrices from `model.embedding.pretrained` or `.word2vec`."""
    path = pretrained_path(model_cfg)
    settings = word2vec_settings(model_cfg)
    if settings is not None:
        path = cached_word2vec(
            datamodule.training_texts(),
            datamodule.tokenizer,
            model_cfg.embedding_dim,
            settings,
            datamodule.cache_dir,
        )
    if path:
        load_pretrained(net.embeddings(), datamodule.tokenizer.get_vocab(), path)
