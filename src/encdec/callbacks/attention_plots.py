"""Attention heatmaps of a few fixed validation sentences, logged after every validation.

Watching the same sentences epoch after epoch shows the attention sharpening from a uniform smear
into a near-diagonal alignment: a quick check that the model learns to align, not just to guess.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from encdec.data.batching import Collator


def heatmap(
    weights: np.ndarray, source: list[str], output: list[str], title: str = ""
) -> np.ndarray:
    """Render attention weights (T, S) as an RGB image (H, W, 3): source across, output down."""
    rows, cols = weights.shape
    fig = Figure(figsize=(max(4.0, 0.32 * cols + 2.0), max(3.0, 0.3 * rows + 1.6)), dpi=100)
    FigureCanvasAgg(fig)
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
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


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
        datasets = getattr(trainer.datamodule, "datasets", {})
        if "val" not in datasets or not hasattr(pl_module, "decode"):
            return [], []
        ds = datasets["val"]
        examples = [ds[i] for i in range(min(self.num_sentences, len(ds)))]
        ids = pl_module.ids
        batch = Collator(ids["pad"], ids["bos"], ids["eos"])(examples)
        batch.src = batch.src.to(pl_module.device)
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            hyps = pl_module.decode(batch, beam_size=1, return_attention=True)
        pl_module.train(was_training)
        tok = pl_module.tokenizer
        images, captions = [], []
        for (_, src_ids, _, src_text, tgt_text), hyp in zip(examples, hyps, strict=True):
            if hyp.attention is None:  # attention=none
                return [], []
            weights = hyp.attention.float().numpy()  # (T, S): output steps x source tokens
            output = [tok.id_to_token(t) for t in hyp.tokens]
            output += ["</s>"] * (weights.shape[0] - len(output))  # the EOS step, if taken
            source = [tok.id_to_token(t) for t in src_ids]
            images.append(heatmap(weights, source, output, title=src_text))
            captions.append(f"{src_text} → {pl_module.detokenize(hyp.tokens)} (ref: {tgt_text})")
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
