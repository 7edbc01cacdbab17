"""The one assembly path: a config becomes a datamodule, a network and a task; a checkpoint or a
model file becomes a ready task.

Training, evaluation, prediction, export, `encdec.load` and the tests all build through here, and
nothing else instantiates model or task configs. What a file may say is checked first by
encdec.trust (allowlist, refusals, tokenizer, weights) as encdec.artifacts reads it (file
formats, versions, migration); here a checked record is built: on the `meta` device first, so
weights that do not fit the config are refused before real memory is allocated, and with the
data node's locations made the user's (`trust.safe_data_config`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from tokenizers import Tokenizer
from torch import nn

from encdec.artifacts import SavedModel, read_model_file, refuse_overwriting, tokenizer_hash
from encdec.artifacts import read_checkpoint as read_checkpoint_file
from encdec.artifacts import write_model_file as write_package
from encdec.data.base import BucketedDataModule
from encdec.data.qa import QADataModule
from encdec.data.tokenization import PAD, placeholder_tokenizer, special_ids
from encdec.data.word2vec import Word2VecSettings, cached_word2vec
from encdec.errors import CheckpointError, ConfigError, EmbeddingFileError, EncdecError
from encdec.inference.kinds import TaskKind, recorded_kind, saved_kind
from encdec.models.embedding import load_pretrained, sniff_format
from encdec.models.partial_tuning import most_frequent_ids, tune_only_rows
from encdec.models.transfer import carry_encoder, source_encoder
from encdec.tasks.base import Task
from encdec.trust import check_options, check_shapes, safe_data_config

log = logging.getLogger(__name__)


class _HasEmbeddings(Protocol):
    """What pretrained vectors fill: every network's embedding matrices."""

    def embeddings(self) -> list[nn.Embedding]: ...


def _instantiate(section: Any, name: str, **kwargs: Any) -> Any:
    """instantiate, with its errors (a constructor's own checks) as one ConfigError line."""
    try:
        return instantiate(section, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, EncdecError):
            raise cause from None  # already one of encdec's messages (ConfigError, DataError...)
        where = ".".join(p for p in (name, getattr(err, "full_key", "")) if p)
        message = str(cause)
        raise ConfigError(
            message if message.startswith(f"{name}.") else f"{where}: {message}"
        ) from None


# -- config -> objects ------------------------------------------------------------------------------
@dataclass
class Embeddings:
    """How the token embeddings start (`embeddings.*` of train.yaml): random, from a vectors file
    (Word2Vec / GloVe, text or binary), or from Word2Vec learnt on the training text first."""

    vectors: str | None = None
    word2vec: dict | None = None
    tune_top_k: int | None = None

    def __post_init__(self) -> None:
        if self.vectors and self.word2vec is not None:
            raise EmbeddingFileError(
                "embeddings.vectors and embeddings.word2vec are both set: the vectors come either "
                "from a file or from Word2Vec on the training text. Set one to null."
            )
        k = self.tune_top_k
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 0):
            raise ConfigError(
                f"embeddings.tune_top_k={k!r}: give a whole number of rows to fine-tune (DrQA: "
                f"1000), or null to tune them all."
            )

    @classmethod
    def from_config(cls, cfg: DictConfig) -> Embeddings:
        section = cfg.get("embeddings") or {}
        options = OmegaConf.to_container(section, resolve=True) if section else {}
        return cls(**cast(dict[str, Any], options))  # a mapping section

    def word2vec_settings(self) -> Word2VecSettings | None:
        if self.word2vec is None:
            return None
        try:
            return Word2VecSettings(**self.word2vec)
        except TypeError as err:
            raise EmbeddingFileError(
                f"embeddings.word2vec: {err}; the options are epochs, window, min_count, "
                f"workers, seed."
            ) from None

    def dimension(self, configured: int | None) -> int:
        """`model.embedding_dim=null` takes the dimension of the vectors file."""
        if configured is not None:
            return configured  # a number: load_pretrained checks that the file agrees
        if not self.vectors:
            raise EmbeddingFileError(
                "model.embedding_dim=null takes the size from embeddings.vectors, which is not "
                "set: give a number (model.embedding_dim=256; embeddings.word2vec needs one) or "
                "a vectors file."
            )
        return sniff_format(self.vectors)[2]

    def apply(self, net: nn.Module, datamodule: BucketedDataModule, dim: int) -> None:
        """Fill the network's embedding matrices (training only: a checkpoint holds them)."""
        path: str | Path | None = self.vectors
        tokenizer = datamodule.tokenizer
        assert tokenizer is not None  # made by prepare_data
        settings = self.word2vec_settings()
        if settings is not None:
            path = cached_word2vec(
                datamodule.training_texts(),
                tokenizer,
                dim,
                settings,
                datamodule.cache_dir,
            )
        if path:
            load_pretrained(cast(_HasEmbeddings, net).embeddings(), tokenizer.get_vocab(), path)
        if self.tune_top_k is not None:
            self.tune_question_words(net, datamodule)

    def tune_question_words(self, net: nn.Module, datamodule: BucketedDataModule) -> None:
        """DrQA's fine-tuning: only the rows of the `tune_top_k` most frequent training-question
        words learn; the others stay as they start (e.g. Word2Vec). The hook is set on every
        start, resumes included (it is not part of a checkpoint)."""
        if not isinstance(datamodule, QADataModule):
            raise ConfigError(
                "embeddings.tune_top_k picks the most frequent question words: it is for task=qa "
                "(the reader). Set it to null."
            )
        tokenizer = datamodule.tokenizer
        assert tokenizer is not None  # made by prepare_data
        embeddings = cast(_HasEmbeddings, net).embeddings()
        if not all(e.weight.requires_grad for e in embeddings):
            raise ConfigError(
                "embeddings.tune_top_k tunes some rows, but model.freeze_embeddings=true fixes "
                "them all: set one of them off."
            )
        special = set(special_ids(tokenizer).values())
        encoded = tokenizer.encode_batch(datamodule.training_questions(), add_special_tokens=False)
        rows = most_frequent_ids((e.ids for e in encoded), self.tune_top_k or 0, special)
        for embedding in embeddings:
            tune_only_rows(embedding, rows)
        log.info(
            "Fine-tuning the embeddings of the %d most frequent question words only "
            "(embeddings.tune_top_k); the other rows stay fixed.",
            len(rows),
        )


@dataclass
class EncoderInit:
    """Where the encoder starts (`init.*` of train.yaml): as built, or carried from another run's
    checkpoint (.ckpt) or model file, read with that file's trust rules (encdec.trust); with
    `tokenizer: source` the run uses the source's tokenizer, so that its embedding carries too
    (`own`: the run's own vocabulary, the RNN weights only). `freeze_encoder_steps`: 0 trains
    the carried weights from the start, N > 0 keeps them fixed for the first N optimizer steps,
    -1 throughout."""

    encoder_from: str | None = None
    freeze_encoder_steps: int = 0
    tokenizer: str = "source"

    def __post_init__(self) -> None:
        if self.tokenizer not in ("source", "own"):
            raise ConfigError(
                f"init.tokenizer={self.tokenizer!r}: give source (the source's vocabulary: the "
                f"embedding carries too) or own (this run's vocabulary: the RNN weights only)."
            )
        steps = self.freeze_encoder_steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < -1:
            raise ConfigError(
                f"init.freeze_encoder_steps={steps!r}: give 0 (train it from the start), N > 0 "
                f"(frozen for the first N optimizer steps) or -1 (frozen throughout)."
            )
        if self.encoder_from is not None and not Path(self.encoder_from).is_file():
            raise ConfigError(
                f"init.encoder_from={self.encoder_from}: no such file; give a train.py "
                f"checkpoint (.ckpt) or a model file (python -m encdec.export)."
            )

    @classmethod
    def from_config(cls, cfg: DictConfig) -> EncoderInit:
        section = cfg.get("init") or {}
        options = OmegaConf.to_container(section, resolve=True) if section else {}
        try:
            return cls(**cast(dict[str, Any], options))  # a mapping section
        except TypeError as err:
            raise ConfigError(
                f"init: {err}; the options are encoder_from, freeze_encoder_steps, tokenizer."
            ) from None

    def check(self, embeddings: Embeddings) -> None:
        if self.encoder_from and embeddings.vectors and self.tokenizer == "source":
            raise ConfigError(
                "init.encoder_from and embeddings.vectors both set the encoder's embedding: set "
                "embeddings.vectors=null, or init.tokenizer=own to carry only the RNN weights."
            )
        if self.encoder_from and embeddings.word2vec is not None and self.tokenizer == "source":
            raise ConfigError(
                "init.encoder_from and embeddings.word2vec both set the encoder's embedding: set "
                "embeddings.word2vec=null, or init.tokenizer=own to carry only the RNN weights."
            )

    def load(self) -> Task | None:
        """The source's trained task (None without `encoder_from`)."""
        if self.encoder_from is None:
            return None
        path = self.encoder_from
        loaded = load_checkpoint(path) if path.endswith(".ckpt") else load_model_file(path)
        return loaded.task

    def tokenizer_of(self, source: Task | None) -> Tokenizer | None:
        """The tokenizer the run must use (the source's), or None: the data trains its own."""
        return source.tokenizer if source is not None and self.tokenizer == "source" else None

    def apply(self, net: nn.Module, source: Task | None, tok: Tokenizer) -> list[str]:
        """Carry the source's encoder into `net` (built for `tok`); the carried parameters'
        names. Refuses (one line) a vocabulary other than the source's when it should carry."""
        if source is None:
            return []
        path = str(self.encoder_from)
        wanted = self.tokenizer_of(source)
        if wanted is not None and tokenizer_hash(wanted) != tokenizer_hash(tok):
            raise ConfigError(
                f"init.encoder_from={path}: the data did not take the source's tokenizer (its "
                f"vocabulary or token ids differ), so its embedding cannot carry; set "
                f"init.tokenizer=own to carry only the RNN weights."
            )
        encoder = source_encoder(source.net, path)
        return carry_encoder(encoder, net, path, embedding=wanted is not None)


def build_datamodule(data: DictConfig, **overrides: Any) -> BucketedDataModule:
    return _instantiate(data, "data", **overrides)


def build_network(
    model: DictConfig, tokenizer: Tokenizer, embedding_dim: int | None = None
) -> nn.Module:
    """The network of `model` for this tokenizer's vocabulary."""
    extra = {} if embedding_dim is None else {"embedding_dim": embedding_dim}
    return _instantiate(
        model,
        "model",
        vocab_size=tokenizer.get_vocab_size(),
        pad_id=tokenizer.token_to_id(PAD),
        **extra,
    )


def build_task(task: DictConfig, net: nn.Module, tokenizer: Tokenizer) -> Task:
    return _instantiate(task, "task", net=net, tokenizer=tokenizer)


def check_config(cfg: DictConfig) -> None:
    """Every constructor's own checks, run before any data loads: the datamodule is constructed
    (it reads nothing yet), the network and task are built once on a placeholder vocabulary.
    A mistake ends here as one ConfigError line. Random state is left as it was."""
    task_class: type[Task] = get_class(cfg.task._target_)
    task_class.check_data(get_class(cfg.data._target_))  # task and data fit
    for name in ("data", "model", "task"):
        check_options(cfg[name], name)
    build_datamodule(cfg.data)
    embeddings = Embeddings.from_config(cfg)
    embeddings.word2vec_settings()
    init = EncoderInit.from_config(cfg)
    init.check(embeddings)
    source = init.load()  # the source's own checks (trust rules) before any data loads
    with torch.random.fork_rng(devices=[]):
        tok = init.tokenizer_of(source) or placeholder_tokenizer()
        net = build_network(cfg.model, tok, embeddings.dimension(cfg.model.embedding_dim))
        init.apply(net, source, tok)  # shapes that do not fit stop here
        build_task(cfg.task, net, tok)


@dataclass
class Assembled:
    """What training needs: the prepared datamodule (its tokenizer trained) and the task;
    `carried`: the task's parameters carried from `init.encoder_from`, to keep fixed for the
    first `freeze_steps` optimizer steps (-1: throughout; callbacks.FreezeParameters)."""

    datamodule: BucketedDataModule
    task: Task
    carried: list[str] = field(default_factory=list)
    freeze_steps: int = 0


def assemble(cfg: DictConfig) -> Assembled:
    """Config -> datamodule (data prepared, tokenizer trained or loaded, or the source's when
    `init.encoder_from` carries an encoder), network (embeddings initialised as `embeddings.*`
    says, the encoder as `init.*` says) and task, for training."""
    init = EncoderInit.from_config(cfg)
    source = init.load()
    datamodule = build_datamodule(cfg.data)
    given = init.tokenizer_of(source)
    if given is not None:  # the data is encoded with the source's tokenizer, not one of its own
        datamodule.tokenizer = given
    datamodule.prepare_data()
    tokenizer = datamodule.tokenizer
    assert tokenizer is not None  # made by prepare_data
    embeddings = Embeddings.from_config(cfg)
    dim = embeddings.dimension(cfg.model.embedding_dim)
    net = build_network(cfg.model, tokenizer, dim)
    embeddings.apply(net, datamodule, dim)
    carried = [f"net.{n}" for n in init.apply(net, source, tokenizer)]
    task = build_task(cfg.task, net, tokenizer)
    task.checkpoint_extras = SavedModel.new(
        plain(cfg, resolve=True), tokenizer, task_kind=recorded_kind(cfg)
    )
    return Assembled(datamodule, task, carried, init.freeze_encoder_steps)


def plain(node: DictConfig, resolve: bool = False) -> dict[str, Any]:
    """A config node as plain values (what a checkpoint saves)."""
    container = OmegaConf.to_container(node, resolve=resolve)
    assert isinstance(container, dict)  # a DictConfig's container is a dict
    return container  # type: ignore[return-value]


def record(task: Task) -> SavedModel:
    """The task's `SavedModel` record (set by `assemble` / `rebuild`)."""
    if task.checkpoint_extras is None:
        raise ConfigError("This task was not built by encdec.build (assemble or a loader).")
    return task.checkpoint_extras


# -- files -> task --------------------------------------------------------------------------------
@dataclass
class Loaded:
    """A trained task rebuilt from a file, its (upgraded) config, and the datamodule if asked."""

    task: Task
    config: DictConfig
    datamodule: BucketedDataModule | None = None

    @property
    def kind(self) -> TaskKind:
        """The task kind the file records: translation, summarization or qa (inference.kinds)."""
        return saved_kind({"task_kind": record(self.task).task_kind}, self.config)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A train.py checkpoint on the CPU, checked by encdec.trust (nothing built); its "encdec"
    entry is the `SavedModel` record (config upgraded to today's layout)."""
    ckpt, saved = read_checkpoint_file(path)
    ckpt["encdec"] = saved
    return ckpt


def _tokenizer(saved: SavedModel, source: str) -> Tokenizer:
    try:
        return Tokenizer.from_str(saved.tokenizer)
    except BaseException as err:  # the Rust parser's errors; its panics (PanicException) too
        if isinstance(err, KeyboardInterrupt | SystemExit):
            raise
        raise CheckpointError(f"{source}: the saved tokenizer is unreadable ({err}).") from None


def _applicable(task: DictConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides of options the saved task has; of a built node's options (`_target_`),
    only those its class takes (its targets were checked against the allowlist)."""
    known: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in task:
            continue
        node = task[key]
        if isinstance(value, Mapping) and isinstance(node, DictConfig) and "_target_" in node:
            params = inspect.signature(get_class(node._target_)).parameters
            value = {k: v for k, v in value.items() if k in params}
            if not value:
                continue
        known[key] = value
    return known


def _build_trained(config: DictConfig, tok: Tokenizer) -> Task:
    network = build_network(config.model, tok)
    return build_task(config.task, network, tok)


def _config(saved: SavedModel, task_overrides: Mapping[str, Any] | None = None) -> DictConfig:
    config = OmegaConf.create(saved.config)
    if task_overrides:  # only options the saved task has (QA: no decoding; BLEU: no stemmer)
        config.task = OmegaConf.merge(config.task, _applicable(config.task, task_overrides))
    return config


def _meta_state(config: DictConfig, tok: Tokenizer) -> dict[str, torch.Tensor]:
    """The names and shapes of the weights the config builds, allocating nothing."""
    check_options(config.model, "model")
    check_options(config.task, "task")
    with torch.device("meta"), torch.random.fork_rng(devices=[]):
        return _build_trained(config, tok).state_dict()


def rebuild_shapes(saved: SavedModel, source: str) -> dict[str, torch.Tensor]:
    """The weights (on the `meta` device: shapes only) the record's config builds."""
    try:
        return _meta_state(_config(saved), _tokenizer(saved, source))
    except ConfigError as err:
        raise CheckpointError(f"{source}: {err}") from None


def rebuild(
    saved: SavedModel,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    task_overrides: Mapping[str, Any] | None = None,
) -> tuple[Task, DictConfig]:
    """Network + task of a checked record with its weights: built on the `meta` device first,
    so that weights of other shapes are refused before real memory is allocated."""
    config = _config(saved, task_overrides)
    tok = _tokenizer(saved, source)
    try:
        check_shapes(state_dict, _meta_state(config, tok), source)
        task = _build_trained(config, tok)
    except ConfigError as err:
        raise CheckpointError(f"{source}: {err}") from None
    try:
        task.load_state_dict(state_dict)
    except RuntimeError as err:  # e.g. a dtype that cannot be copied
        raise CheckpointError(f"{source}: the weights do not fit the saved config: {err}") from None
    kind = saved_kind({"task_kind": saved.task_kind}, saved.config)
    task.checkpoint_extras = SavedModel.new(plain(config), tok, task_kind=kind)
    return task.eval(), config


def load_checkpoint(
    path: str | Path,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    with_data: bool = False,
    task_overrides: Mapping[str, Any] | None = None,
    data_overrides: Mapping[str, Any] | None = None,
) -> Loaded:
    """A train.py checkpoint -> the trained task (and, `with_data`, its datamodule with the
    checkpoint's tokenizer). The saved data node's locations are never used: `data_dir` (this
    machine's data root; the saved corpus sub-folder is kept when it is plain names) and
    `cache_dir` replace them, URLs are dropped (trust.safe_data_config). `task_overrides` change
    task options, e.g. {"decoding": {...}}, before the task is built, so the trained task is never
    changed under anyone. `data_overrides` (the user's own, e.g. {"splits": {"test": "val"}}:
    trusted) are merged over the saved data options, e.g. to score another test set."""
    ckpt, saved = read_checkpoint_file(path)
    task, config = rebuild(saved, ckpt["state_dict"], str(path), task_overrides)
    datamodule = None
    if with_data:
        datamodule = build_datamodule(
            data_config(config, str(path), data_dir, cache_dir, data_overrides)
        )
        datamodule.tokenizer = task.tokenizer
    return Loaded(task, config, datamodule)


def data_config(
    config: DictConfig,
    source: str,
    data_dir: str | None,
    cache_dir: str | None,
    overrides: Mapping[str, Any] | None = None,
) -> DictConfig:
    """The saved data node with the user's locations (trust.safe_data_config) and the user's
    own `overrides` merged over it. Without `data_dir` / `cache_dir`: the user's defaults
    (ENCDEC_DATA_DIR or ./data; ./.cache), never the saved ones."""
    saved = plain(config.data)
    root = OmegaConf.select(config, "paths.data_dir")
    user = _default_paths()
    safe = safe_data_config(
        saved,
        root if isinstance(root, str) else None,
        data_dir if data_dir is not None else user["data_dir"],
        cache_dir if cache_dir is not None else user["cache_dir"],
        source,
        overrides,
    )
    data: DictConfig | ListConfig = OmegaConf.create(safe)
    if overrides:
        data = OmegaConf.merge(data, OmegaConf.create(dict(overrides)))
    assert isinstance(data, DictConfig)
    return data


def _default_paths() -> dict[str, str]:
    """The data and cache folders conf/paths/default.yaml gives when nothing else is said."""
    root = os.environ.get("ENCDEC_ROOT", ".")
    return {
        "data_dir": os.environ.get("ENCDEC_DATA_DIR", f"{root}/data"),
        "cache_dir": f"{root}/.cache",
    }


def load_model_file(path: str | Path, map_location: Any = "cpu") -> Loaded:
    """A file written by `write_model_file` (any version this encdec reads) -> the task."""
    package, saved = read_model_file(path, map_location)
    task, config = rebuild(saved, package["state_dict"], str(path))
    return Loaded(task.to(map_location), config)


def write_model_file(task: Task, out: str | Path) -> Path:
    """One file with the weights, the tokenizer and the config (no trainer state)."""
    saved = dataclasses.replace(record(task), tokenizer=task.tokenizer.to_str())
    return write_package(saved, task.state_dict(), out)


def export_model(ckpt_path: str | Path, out: str | Path) -> Path:
    """The model of a train.py checkpoint as one file (what `python -m encdec.export` does);
    never over the checkpoint itself (compared by identity: a hard link is the same file)."""
    refuse_overwriting([Path(ckpt_path)], Path(out), "out")
    return write_model_file(load_checkpoint(ckpt_path).task, out)


def check_resume(ckpt: Mapping[str, Any], path: str, task: Task) -> None:
    """A checkpoint to resume (or fine-tune) from must hold this run's network and tokenizer:
    weights paired with other token ids would train on silently."""
    saved: SavedModel = ckpt["encdec"]
    saved_tok = _tokenizer(saved, path)
    if tokenizer_hash(saved_tok) != tokenizer_hash(task.tokenizer):
        raise CheckpointError(
            f"Cannot resume from {path}: it was trained with another tokenizer (its vocabulary "
            f"or token ids differ from this run's, e.g. another data.tokenizer.vocab_size, tokenizer= or "
            f"corpus). Resume with the same data settings, or start afresh with resume=never."
        )
    try:
        check_shapes(ckpt["state_dict"], task.state_dict(), path)
        task.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, CheckpointError) as err:
        raise CheckpointError(
            f"Cannot resume from {path}: it was trained with another model config ({err}). "
            f"Resume with the same settings, or start afresh with resume=never (or another "
            f"run_name)."
        ) from None
