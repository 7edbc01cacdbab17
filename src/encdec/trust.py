"""The trust boundary: what a saved config, tokenizer or state dict may say before anything of it
is built.

A checkpoint or model file is data, never code or a choice of place: tensors are read with
`torch.load(weights_only=True)` (encdec.artifacts), and what is built from a saved config must pass
every check here first, each failure one `CheckpointError` line naming the file and the key:

- `check_saved_config`: nesting depth, no interpolations, no missing values (`???`), every
  `_target_` on the allowlist (`ALLOWED_TARGETS`, or a torch optimizer / LR scheduler), Hydra keys
  only where encdec itself writes them (`_partial_` on the optimizer, scheduler and attention
  factories; never `_recursive_` / `_convert_` / `_args_`).
- `check_tokenizer_json`: the tokenizer is one encdec writes (BPE / WordLevel, the normalizers and
  pre-tokenizers of encdec.data.tokenization, contiguous ids, the special tokens at their ids),
  checked on the JSON before the tokenizers library parses it (a huge id would allocate gigabytes).
- `check_state_dict`: a mapping of names to tensors, of sane sizes; shapes are compared with the
  network built on the `meta` device (encdec.build) before real memory is allocated.
- `safe_data_config`: the data node's locations (folders, file names, URLs, hub names) are
  replaced with the user's or refused (docs/security.md says exactly which).

To add a model, a task or a data source of your own: write the class, give it a config file with
its `_target_`, and add its dotted name to `ALLOWED_TARGETS` (docs/extending.md).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from encdec.errors import CheckpointError, ConfigError

#: The classes a config (a checkpoint's or model file's above all) may name in `_target_`.
ALLOWED_TARGETS = frozenset(
    {
        # this project's own
        "encdec.models.Seq2Seq",
        "encdec.models.TransformerSeq2Seq",
        "encdec.models.DocumentReader",
        "encdec.models.DualEncoder",
        "encdec.models.attention.BahdanauAttention",
        "encdec.models.attention.LuongAttention",
        "encdec.tasks.Seq2SeqTask",
        "encdec.tasks.QATask",
        "encdec.tasks.RetrievalTask",
        "encdec.tasks.LRSchedule",
        "encdec.tasks.LossSettings",
        "encdec.metrics.Bleu",
        "encdec.metrics.Rouge",
        "encdec.metrics.SquadMetrics",
        "encdec.metrics.RetrievalMetrics",
        "encdec.decoding.DecodingSettings",
        "encdec.data.seq2seq.Seq2SeqDataModule",
        "encdec.data.qa.QADataModule",
        "encdec.data.retrieval.RetrievalDataModule",
        "encdec.data.sources.Files",
        "encdec.data.sources.Hub",
        "encdec.data.sources.QAFiles",
        # written by encdec before format 3 (rewritten by encdec.data.migrations.upgrade_v3)
        "encdec.data.datamodule.TranslationDataModule",
        "encdec.data.datamodule.DialogSumDataModule",
        "encdec.data.squad.SquadDataModule",
        "encdec.data.pairs.TextPairsDataModule",
        "encdec.data.pairs.HFPairsDataModule",
        "encdec.checkpoint_io.AtomicCheckpointIO",
        "encdec.callbacks.AttentionHeatmaps",
        "encdec.callbacks.CheckpointAveraging",
        "encdec.callbacks.ElapsedTime",
        "encdec.callbacks.GradNormMonitor",
        "encdec.callbacks.InterruptCheckpoint",
        "encdec.callbacks.RngState",
        "encdec.callbacks.SampleTable",
        "encdec.callbacks.StopOnNonFiniteLoss",
        "encdec.callbacks.TokenThroughput",
        "encdec.loggers.WandbLogger",
        "encdec.schedules.InverseSqrt",
        "encdec.runs.LockRunFolder",  # Hydra's callback (conf/hydra), never in a saved config
        # Lightning's, as this project's config uses them
        "lightning.pytorch.Trainer",
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "lightning.pytorch.callbacks.LearningRateMonitor",
        "lightning.pytorch.callbacks.RichProgressBar",
        "lightning.pytorch.callbacks.RichModelSummary",
        "lightning.pytorch.callbacks.EarlyStopping",
        "lightning.pytorch.strategies.DDPStrategy",
        "lightning.pytorch.loggers.CSVLogger",
        "lightning.pytorch.loggers.TensorBoardLogger",
        # written by encdec before model format 2 (dropped by `upgrade_config`)
        "encdec.models.EmbeddingInit",
    }
)

#: The Hydra keys a config may hold (check_options); a saved one only as `check_saved_config` says.
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_"}
#: Nodes encdec itself saves with `_partial_: true` (factories the task or network calls later).
PARTIAL_NODES = {"optimizer", "scheduler", "attention"}
#: Deeper than any config encdec writes (about 5), far below Python's recursion limit.
MAX_CONFIG_DEPTH = 32
#: Entries in a saved config; encdec's own hold a few hundred.
MAX_CONFIG_ENTRIES = 100_000
#: A vocabulary larger than this is not one encdec trains (its configs use 500 to 50,000).
MAX_VOCAB = 2_000_000
#: One saved tensor may hold at most this many elements (a 2**28-float embedding is 1 GiB).
MAX_TENSOR_ELEMENTS = 2**28


def allowed_target(target: object) -> bool:
    """On the allowlist, or a torch optimizer / LR scheduler class by its public name."""
    if not isinstance(target, str):
        return False
    if target in ALLOWED_TARGETS:
        return True
    module, _, name = target.rpartition(".")
    if module == "torch.optim":
        candidate = getattr(torch.optim, name, None)
        base: type = torch.optim.Optimizer
    elif module == "torch.optim.lr_scheduler":
        candidate = getattr(torch.optim.lr_scheduler, name, None)
        base = torch.optim.lr_scheduler.LRScheduler
        if name == "ReduceLROnPlateau":
            return True
    else:
        return False
    # LambdaLR only makes sense with a function, which a saved config has no business naming.
    return isinstance(candidate, type) and issubclass(candidate, base) and name != "LambdaLR"


def walk(node: Any, path: str = "", max_depth: int | None = None) -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, key, value) of every entry of nested dicts / lists, without recursion (a file
    may nest thousands of levels); deeper than `max_depth` raises ValueError naming the key."""
    stack: list[tuple[Any, str, int]] = [(node, path, 0)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, Mapping):
            children = [
                (f"{where}.{key}" if where else str(key), key, value)
                for key, value in current.items()
            ]
        elif isinstance(current, list | tuple):
            children = [(f"{where}[{i}]", i, value) for i, value in enumerate(current)]
        else:
            continue
        if max_depth is not None and depth >= max_depth and children:
            raise ValueError(f"{where or 'the config'} is nested deeper than {max_depth} levels")
        for child, key, value in reversed(children):
            yield child, key, value
            stack.append((value, child, depth + 1))


def check_saved_config(config: Any, source: str) -> None:
    """Refuse a saved config that could do more than describe a model (nothing is built yet)."""
    if not isinstance(config, Mapping):
        raise CheckpointError(f"{source}: the saved config is not a mapping; the file is refused.")
    try:
        for count, (key_path, key, value) in enumerate(walk(config, "", MAX_CONFIG_DEPTH)):
            if count > MAX_CONFIG_ENTRIES:
                raise CheckpointError(
                    f"{source}: the saved config has more than {MAX_CONFIG_ENTRIES} entries; "
                    f"encdec writes a few hundred, so the file is refused."
                )
            _check_entry(key_path, key, value, source)
    except ValueError as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(
            f"{source}: {err}; encdec writes no such config, so the file is refused."
        ) from None


def _check_entry(key_path: str, key: Any, value: Any, source: str) -> None:
    if not isinstance(key, str | int):
        raise CheckpointError(f"{source}: {key_path} has a key of type {type(key).__name__}.")
    if isinstance(value, str) and "${" in value:  # a resolver could read the environment
        raise CheckpointError(
            f"{source}: {key_path}={value!r} is an interpolation; encdec saves resolved "
            f"values only, so the file is refused."
        )
    if isinstance(value, str) and value == "???":
        raise CheckpointError(
            f"{source}: {key_path} is a missing value ('???'); encdec saves complete configs "
            f"only, so the file is refused."
        )
    if key == "_target_" and not allowed_target(value):
        raise CheckpointError(
            f"{source}: {key_path}={value!r} is not a class encdec builds, so the file is "
            f"refused (a shared file could run code this way). Nothing was built. Use a "
            f"file written by encdec's own train.py / export, or add your class to "
            f"encdec.trust.ALLOWED_TARGETS if you wrote it."
        )
    if isinstance(key, str) and key.startswith("_") and key.endswith("_") and key != "_target_":
        parent = key_path.rsplit(".", 2)[-2] if key_path.count(".") else ""
        if key != "_partial_" or parent.split("[")[0] not in PARTIAL_NODES or value is not True:
            raise CheckpointError(
                f"{source}: {key_path}={value!r} is not an option encdec writes there (it "
                f"builds model, task and data whole); the file is refused."
            )


def check_options(section: Any, name: str) -> None:
    """Every key of every `_target_` block must be an argument of its class: a message naming
    the unknown option and the class's options (e.g. an RNN-only option given to the
    Transformer), before anything is built."""
    container = (
        OmegaConf.to_container(section, resolve=True)
        if isinstance(section, DictConfig)
        else section
    )
    blocks = [(name, container)] + [
        (f"{name}.{path}", value)
        for path, _, value in walk(container, "")
        if isinstance(value, Mapping) and "_target_" in value
    ]
    for where, block in blocks:
        if not isinstance(block, Mapping) or "_target_" not in block:
            continue
        try:
            cls = get_class(block["_target_"])
        except Exception:  # a function or a bad name: instantiate says what is wrong
            continue
        params = inspect.signature(cls).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        unknown = [str(k) for k in block if k not in params and k not in HYDRA_KEYS]
        if unknown:
            options = ", ".join(p for p in params if p not in ("self", "net", "tokenizer"))
            raise ConfigError(
                f"{', '.join(f'{where}.{k}' for k in unknown)}: not an option of "
                f"{block['_target_']} (its options: {options}). Remove it, or choose the "
                f"model / task that takes it."
            )


# -- tokenizers ------------------------------------------------------------------------------------
@functools.cache
def _project_components() -> dict[str, set[str]]:
    """Per tokenizer part (normalizer, pre_tokenizer, decoder, post_processor): the JSON of every
    component encdec's own tokenizers use (a `Sequence` counts by its members)."""
    from encdec.data import tokenization as T  # noqa: PLC0415 (the tokenizers library is heavy)

    tokenizers = [
        T.new_bpe_tokenizer(),
        T.new_bpe_tokenizer(unspaced=True),
        T.new_word_tokenizer(),
        T.new_spaced_word_tokenizer(),
        T.new_spaced_word_tokenizer(unspaced=True),
    ]
    parts: dict[str, set[str]] = {}
    for tok in tokenizers:
        saved = json.loads(tok.to_str())
        for part in ("normalizer", "pre_tokenizer", "decoder", "post_processor"):
            parts.setdefault(part, set()).update(_component_keys(saved.get(part)))
    return parts


def _component_keys(component: Any) -> list[str]:
    """How a component is compared: its type, and for those with a pattern (Split, Replace) the
    whole component (a foreign regex could backtrack for ever); `prepend_scheme` may vary."""
    if component is None:
        return ["null"]
    if not isinstance(component, dict):
        return [repr(component)]
    kind = component.get("type")
    if kind == "Sequence":
        members = component.get(
            "normalizers", component.get("pretokenizers", component.get("decoders"))
        )
        if not isinstance(members, list):
            return [repr(component)]
        return [key for member in members for key in _component_keys(member)]
    if "pattern" in component:
        return [json.dumps(component, sort_keys=True)]
    if kind == "Metaspace":
        return [f"Metaspace {component.get('replacement')!r}"]
    return [str(kind)]


def check_tokenizer_json(text: Any, source: str) -> None:
    """A saved tokenizer must be one encdec writes; checked on the JSON before the tokenizers
    library reads it (which would allocate for the largest id, and panic on some regexes)."""

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(
            f"{source}: the saved tokenizer is not one encdec writes ({why}), so the file is "
            f"refused. Use a file written by encdec's own train.py / export."
        )

    if not isinstance(text, str):
        raise refuse("not a JSON string")
    try:
        saved = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise refuse(f"unreadable JSON: {str(err)[:80]}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("model"), dict):
        raise refuse("no model")
    for part, allowed in _project_components().items():
        for key in _component_keys(saved.get(part)):
            if key not in allowed:
                raise refuse(f"its {part} {key[:120]}")
    for part in ("truncation", "padding"):
        if saved.get(part) is not None:
            raise refuse(f"{part} is set")
    model = saved["model"]
    kind = model.get("type")
    if kind not in ("BPE", "WordLevel"):
        raise refuse(f"model type {str(kind)[:40]!r}; encdec writes BPE or WordLevel")
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not 0 < len(vocab) <= MAX_VOCAB:
        raise refuse("the vocabulary is missing or too large")
    ids = vocab.values()
    if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(vocab))):
        raise refuse(f"the vocabulary's ids are not 0 to {len(vocab) - 1}, each once")
    if model.get("unk_token") != "<unk>":
        raise refuse("the unknown token is not <unk>")
    if kind == "BPE":
        _check_bpe(model, vocab, refuse)
    _check_added_tokens(saved.get("added_tokens"), vocab, refuse)


def _check_bpe(model: dict[str, Any], vocab: dict[str, int], refuse: Any) -> None:
    merges = model.get("merges")
    if not isinstance(merges, list) or len(merges) > MAX_VOCAB:
        raise refuse("the BPE merges are missing or too many")
    for merge in merges:
        pair = merge.split(" ") if isinstance(merge, str) else merge
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise refuse("a BPE merge is not a pair of strings")
    if model.get("dropout") is not None or model.get("byte_fallback"):
        raise refuse("BPE dropout or byte fallback is set")


def _check_added_tokens(added: Any, vocab: dict[str, int], refuse: Any) -> None:
    """Special tokens at their ids (<pad> 0, <unk> 1, <s> 2, </s> 3); added tokens either in the
    vocabulary with its id or numbered on from its end, each id once."""
    from encdec.data.tokenization import SPECIAL_TOKENS  # noqa: PLC0415

    for expected, token in enumerate(SPECIAL_TOKENS):
        if vocab.get(token) != expected:
            raise refuse(f"{token} is not token {expected}")
    if not isinstance(added, list) or len(added) > MAX_VOCAB:
        raise refuse("the added tokens are not a list")
    limit, seen = len(vocab) + len(added), set()
    for entry in added:
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), str):
            raise refuse("an added token is malformed")
        token_id = entry.get("id")
        if type(token_id) is not int or not 0 <= token_id < limit or token_id in seen:
            raise refuse(f"added token id {str(token_id)[:20]} is out of range or repeated")
        if token_id < len(vocab) and vocab.get(entry["content"]) != token_id:
            raise refuse(f"added token {entry['content'][:20]!r} does not match the vocabulary")
        seen.add(token_id)
    beyond = sorted(i for i in seen if i >= len(vocab))  # numbered on from the vocabulary
    if beyond != list(range(len(vocab), len(vocab) + len(beyond))):
        raise refuse("the added tokens' ids do not follow the vocabulary's")


# -- weights ---------------------------------------------------------------------------------------
def check_state_dict(state_dict: Any, source: str) -> dict[str, torch.Tensor]:
    """A mapping of parameter names to tensors of sane sizes (sizes are read from the file's
    metadata: with mmap nothing is read yet)."""
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(
            f"{source}: the weights (state_dict) are a {type(state_dict).__name__}, not a "
            f"mapping of names to tensors; the file is refused."
        )
    for name, tensor in state_dict.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise CheckpointError(
                f"{source}: state_dict entry {str(name)[:80]!r} is not a named tensor; the file "
                f"is refused."
            )
        if tensor.numel() > MAX_TENSOR_ELEMENTS:
            raise CheckpointError(
                f"{source}: state_dict {name} declares {tuple(tensor.shape)} "
                f"({tensor.numel():,} elements), more than encdec's models hold; the file is "
                f"refused."
            )
    return dict(state_dict)


def check_shapes(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str
) -> None:
    """The saved weights' names and shapes are those of the network the config builds (given
    built on the `meta` device: nothing allocated)."""
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    other = [
        f"{k} {tuple(state_dict[k].shape)} (the config builds {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or other:
        parts = [
            f"missing {', '.join(missing[:3])}" if missing else "",
            f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
            f"other shapes: {', '.join(other[:3])}" if other else "",
        ]
        raise CheckpointError(
            f"{source}: the weights do not fit the saved config ({'; '.join(p for p in parts if p)})."
        )


# -- locations -------------------------------------------------------------------------------------
#: Data keys naming a folder: replaced by the user's (`data_dir` keeps a plain corpus sub-folder).
FOLDER_KEYS = {"cache_dir", "output_dir", "log_dir", "save_dir", "root_dir"}
#: Data keys naming a download: never taken from a saved config.
URL_KEYS = {"download_url", "url", "urls", "base_url"}
#: Data keys naming files relative to the data folder (or split names in it).
FILE_KEYS = {"splits", "files", "file_pattern", "pattern", "path", "data_files"}
#: Data keys holding a data source's own node (encdec.data.sources), checked like the data node.
SOURCE_KEYS = {"source", "fallback"}
#: Data keys naming a Hugging Face hub dataset.
HUB_KEYS = {"hub_name", "name", "config_name"}
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?")


def plain_relative(value: str) -> bool:
    """A relative path of plain names: no `..`, no root, no drive, no URL scheme, no `~`."""
    if not value or "://" in value or value.startswith("~") or "\x00" in value:
        return False
    for pure in (PurePosixPath(value), PureWindowsPath(value)):
        if pure.is_absolute() or pure.anchor or any(p in ("..",) for p in pure.parts):
            return False
    return True


def safe_data_config(
    data: Mapping[str, Any],
    saved_root: str | None,
    data_root: str,
    cache_dir: str,
    source: str,
    given: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """The saved data node with its locations made the user's: `data_dir` is `data_root` (plus
    the saved corpus sub-folder when it is plain names), `cache_dir` is the user's, URLs are
    dropped (no download), file names and hub names are kept only when they are plain names
    inside the data folder; anything else is refused, naming the key and the option to give,
    unless the user gives it (`given`: the user's own data options, merged over the result).
    The data source's node (`data.source`, its `fallback`) is checked the same way."""
    node = dict(data)
    user = {path for path, _, _ in walk(given or {})}
    for key, value in list(node.items()):
        where = f"{prefix}{key}"
        if where in user and not isinstance(value, Mapping | list):
            continue  # the user's value replaces it
        if key == "data_dir" and not prefix:
            node[key] = str(PurePosixPath(data_root) / corpus_folder(value, saved_root, source))
        elif key in SOURCE_KEYS and isinstance(value, Mapping):
            node[key] = safe_data_config(
                value, saved_root, data_root, cache_dir, source, given, f"{where}."
            )
        elif key in FOLDER_KEYS:
            node[key] = cache_dir if key == "cache_dir" else None
        elif key in URL_KEYS:
            node[key] = None
        elif key in FILE_KEYS:
            for path, _, leaf in [(where, None, value), *walk(value, where)]:
                if isinstance(leaf, str) and path not in user and not plain_relative(leaf):
                    raise CheckpointError(
                        f"{source}: data.{path}={leaf[:200]!r} is not a file name inside the "
                        f"data folder; a saved config never chooses where data is read from. "
                        f"Give it yourself, e.g. eval.py data.{path}=<file under "
                        f"{data_root}>."
                    )
        elif key in HUB_KEYS and isinstance(value, str) and not _HUB_ID.fullmatch(value):
            raise CheckpointError(
                f"{source}: data.{where}={value[:200]!r} is not a hub dataset name; a saved "
                f"config never chooses a folder or URL to read. Give it yourself: "
                f"data.{where}=..."
            )
    return node


def corpus_folder(data_dir: Any, saved_root: str | None, source: str = "") -> PurePosixPath:
    """Where a saved config's data lives relative to its data root (`multi30k` for Multi30k,
    `.` for a user's corpus read from `paths.data_dir` itself): only plain names, never `..`."""
    if not isinstance(data_dir, str):
        return PurePosixPath(".")
    folder = PurePosixPath(data_dir)
    if ".." in folder.parts:
        relative = folder  # refused below whatever the saved root: `..` is never a corpus name
    elif saved_root and folder.is_relative_to(saved_root):
        relative = folder.relative_to(saved_root)
    elif folder.is_absolute():
        relative = PurePosixPath(folder.name)
    else:
        relative = folder
    if str(relative) != "." and not plain_relative(str(relative)):
        raise CheckpointError(
            f"{source}: data.data_dir={data_dir[:200]!r} leaves the data folder; a saved config "
            f"never chooses where data is read or written. Evaluate with your own data.data_dir."
        )
    return relative
