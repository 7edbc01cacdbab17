"""`python embed.py model_file=model.pt | ckpt_path=... input=FILE output=vectors.npy`: the
semantic vector of every line of a file of texts (docs/encoder.md#semantic-vectors).

input: plain text, one text per line, its id the line number (from 1); or, for a name ending in
`.jsonl` (`.jsonl.gz`), JSON lines {"id": ..., "text": ...} (no id: the line number). A name
ending in `.gz` is read through gzip. Lines are read as predict.py reads them
(`encdec.inference.inputs`): one vector per input line, always; a blank line, or one that cannot
be used (warned about on stderr, naming the line), gets a vector of zeros.
output: `.npy` (float32 (N, D), `numpy.load`) with the ids beside it in `<output>.ids.txt` (one a
line), or `.arrow` / `.parquet` (a table with columns `id` (string) and `vector` (fixed-size list
of float32)). Never written over the input.
"""

from __future__ import annotations

import gzip
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from encdec.cli.common import CONF_DIR, run_friendly
from encdec.cli.lines import open_input, same_file, warner
from encdec.errors import ConfigError
from encdec.inference import inputs
from encdec.inference.predictor import load
from encdec.inference.texts import is_json_lines, numbered_texts, text_format

log = logging.getLogger(__name__)

#: What output= may end with.
FORMATS = (".npy", ".arrow", ".parquet")
TEXT_FORMAT = text_format("text")


@dataclass(frozen=True)
class EmbedOptions:
    """The command's options, checked before anything is loaded."""

    model: Path
    checkpoint: bool
    output: Path
    pooling: str | None
    side: str | None
    batch_size: int


def check(cfg: DictConfig) -> EmbedOptions:
    """One model, an output of a known format that is not the input, options of the right type."""
    if (cfg.ckpt_path is None) == (cfg.model_file is None):
        raise ConfigError(
            "give ckpt_path=<train.py checkpoint> or model_file=<exported model file>, one of them."
        )
    output = Path(str(cfg.output))
    if output.suffix not in FORMATS:
        raise ConfigError(
            f"output={cfg.output}: give a file ending in {' / '.join(FORMATS)}, e.g. "
            f"output=vectors.npy."
        )
    if output.suffix == ".npy" and same_file(ids_file(output), Path(str(cfg.input))):
        raise ConfigError(
            f"output={cfg.output} would write its ids over the input ({ids_file(output)}). Give "
            f"another output file."
        )
    for name in ("pooling", "side"):
        value = cfg.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"{name}={value!r}: give a name, e.g. pooling=mean (or leave it out)."
            )
    batch_size = inputs.check_option("batch_size", cfg.get("batch_size"), optional=False)
    return EmbedOptions(
        Path(str(cfg.ckpt_path or cfg.model_file)),
        cfg.ckpt_path is not None,
        output,
        cfg.get("pooling"),
        cfg.get("side"),
        batch_size,
    )


def ids_file(output: Path) -> Path:
    """Where a .npy output's ids go: `<output>.ids.txt`."""
    return output.with_name(output.name + ".ids.txt")


def write_vectors(output: Path, ids: list[str], vectors: torch.Tensor) -> None:
    """vectors (N, D) float32 with their ids, in the format output's name asks for."""
    array = vectors.numpy().astype(np.float32, copy=False)
    try:
        if output.suffix == ".npy":
            np.save(output, array)
            ids_file(output).write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
            return
        import pyarrow as pa  # noqa: PLC0415 (only for these formats)

        dim = array.shape[1]
        flat = pa.array(array.reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "id": pa.array(ids, type=pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
            }
        )
        if output.suffix == ".parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415

            pq.write_table(table, output)
        else:
            with pa.OSFile(str(output), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)
    except OSError as err:
        raise ConfigError(
            f"output={output}: cannot write it ({err.strerror or err}). Give a file in an "
            f"existing, writable folder."
        ) from None


def embed(cfg: DictConfig) -> None:
    options = check(cfg)
    with ExitStack() as stack:
        # The files first: a missing input or an output that is the input costs no model loading.
        stream = stack.enter_context(open_input(cfg, f"a UTF-8 text file ({TEXT_FORMAT})"))
        if Path(str(cfg.input)).suffix == ".gz":
            stream = cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=stream)))
        predictor = load(options.model, checkpoint=options.checkpoint)
        encoding = predictor.encoding
        pooling, side = encoding.choose(options.pooling, options.side)  # ConfigError: one line
        torch.set_grad_enabled(False)
        warn = warner(str(cfg.input))
        ids: list[str] = []
        parts: list[torch.Tensor] = []
        lines = numbered_texts(
            stream, is_json_lines(Path(str(cfg.input))), warn, fate="its vector is zeros"
        )
        try:
            for chunk in inputs.batched(lines, options.batch_size * 16):
                start = len(ids)
                ids.extend(i for i, _ in chunk)
                texts = [t for _, t in chunk]
                parts.append(
                    encoding.vectors(
                        encoding.tokenize(texts, lambda i, m, s=start: warn(s + i + 1, m)),
                        pooling,
                        side,
                        options.batch_size,
                    )
                )
        except (OSError, EOFError) as err:  # e.g. a truncated or corrupt .gz
            raise ConfigError(f"input={cfg.input}: cannot read it ({err}).") from None
    vectors = torch.cat(parts) if parts else torch.zeros(0, encoding.dim)
    write_vectors(options.output, ids, vectors)
    where = f"{options.output} (+ {ids_file(options.output).name})"
    if options.output.suffix != ".npy":
        where = str(options.output)
    log.info(
        "%d vectors of %d dimensions (pooling=%s, side=%s) -> %s",
        *vectors.shape,
        pooling,
        side,
        where,
    )


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="embed")
def main(cfg: DictConfig) -> None:
    run_friendly(lambda: embed(cfg))
