"""Attention heatmaps of a few fixed validation sentences, logged after every validation.

Watching the same sentences epoch after epoch shows the attention sharpening from a uniform smear
into a near-diagonal alignment: a quick check that the model learns to align, not just to guess.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from encdec.data.batching import Batch, Collator


class _AttendingTask(Protocol):
    """What the heatmaps use of a task (one with `decode`, checked before use)."""

    ids: dict[str, int]
    tokenizer: Any  # a tokenizers.Tokenizer
    device: torch.device
    training: bool

    def decode(self, batch: Batch, beam_size: int, return_attention: bool) -> list[Any]: ...

    def detokenize(self, tokens: list[int], oov: list[str] | None = None) -> str: ...

    def eval(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...


def heatmap(
    weights: np.ndarray, source: list[str], output: list[str], title: str = ""
) -> np.ndarray:
    """Render attention weights (T, S) as an RGB image (H, W, 3): source across, output down."""
    rows, cols = weights.shape
    fig = Figure(figsize=(max(4.0, 0.32 * cols + 2.0), max(3.0, 0.3 * rows + 1.6)), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(cols), source, rotation=90, fontsize=8)
    ax.set_yticks(range(rows), output, fontsize=8)
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class AttentionHeatmaps(L.Callback):
    """Decode the first `num_sentences` validation examples greedily and log their attention.

    Needs a task with `decode(batch, beam_size, return_attention=True)` and `ids` (pad/bos/eos),
    and a datamodule with `datasets["val"]`; otherwise (or with `attention=none`) it logs nothing.
    Runs on rank 0 only, after validation, on the module's own network (no DDP collectives).
    """

    def __init__(self, num_sentences: int = 4, key: str = "val/attention") -> None:
        self.num_sentences, self.key = num_sentences, key

    def _images(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> tuple[list[np.ndarray], list[str]]:
        # Lightning sets `trainer.datamodule` at run time; its class does not declare it.
        datamodule = trainer.datamodule  # type: ignore[attr-defined]
        datasets = getattr(datamodule, "datasets", {})
        if "val" not in datasets or not hasattr(pl_module, "decode"):
            return [], []
        task = cast(_AttendingTask, pl_module)
        ds = datasets["val"]
        examples = [ds[i] for i in range(min(self.num_sentences, len(ds)))]
        ids = task.ids
        collate = getattr(datamodule, "collate_fn", None)  # knows the copy vocabulary
        batch = (collate("val") if collate else Collator(ids["pad"], ids["bos"], ids["eos"]))(
            examples
        )
        batch.src = batch.src.to(task.device)
        if batch.src_ext is not None:
            batch.src_ext = batch.src_ext.to(task.device)
        was_training = task.training
        task.eval()
        with torch.no_grad():
            hyps = task.decode(batch, beam_size=1, return_attention=True)
        task.train(was_training)
        tok = task.tokenizer
        images, captions = [], []
        oovs = batch.oov or [[] for _ in examples]
        for example, hyp, oov in zip(examples, hyps, oovs, strict=True):
            _, src_ids, _, src_text, tgt_text = example[:5]
            if hyp.attention is None:  # attention=none
                return [], []
            weights = hyp.attention.float().numpy()  # (T, S): output steps x source tokens

            def piece(t: int, oov: list[str] = oov) -> str:  # copied words have extended ids
                return tok.id_to_token(t) or oov[t - tok.get_vocab_size()]

            output = [piece(t) for t in hyp.tokens]
            output += ["</s>"] * (weights.shape[0] - len(output))  # the EOS step, if taken
            source = [piece(t) for t in src_ids]
            images.append(heatmap(weights, source, output, title=src_text))
            text = task.detokenize(hyp.tokens, oov) if oov else task.detokenize(hyp.tokens)
            captions.append(f"{src_text} → {text} (ref: {tgt_text})")
        return images, captions

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger | TensorBoardLogger)]
        if not loggers:
            return
        images, captions = self._images(trainer, pl_module)
        if not images:
            return
        for logger in loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    key=self.key, images=images, caption=captions, step=trainer.global_step
                )
            else:
                for i, image in enumerate(images):
                    logger.experiment.add_image(
                        f"{self.key}/{i}", image, trainer.global_step, dataformats="HWC"
                    )
