"""Shared by the benchmark scripts: build the reference model and data from the real config."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from encdec import build as assembly
from encdec.cli.common import CONF_DIR, ROOT

REFERENCE = "experiment=bench_reference"


def compose_reference(overrides: list[str]) -> DictConfig:
    """conf/train.yaml + experiment=bench_reference + overrides, as train.py would see it."""
    os.environ.setdefault("ENCDEC_ROOT", str(ROOT))
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[REFERENCE, *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(ROOT / ".cache" / "bench")
    return cfg


def build(cfg: DictConfig, stage: str):
    """(task, datamodule) with data set up for `stage`, exactly as train.py builds them."""
    parts = assembly.assemble(cfg)
    parts.datamodule.setup(stage)
    return parts.task, parts.datamodule


def matmul_ceiling(dtype: torch.dtype = torch.float32, device: str = "cpu") -> float:
    """GFLOP/s of a large GEMM (the output projection's shape) with the current thread count, or
    on the GPU (more repeats: one product takes well under a millisecond there).

    The product goes into one preallocated output, so the figure is the arithmetic alone: a new
    131 MB result per product would add the cost of fresh pages (see encdec.allocator).
    """
    a = torch.randn(4096, 512, dtype=dtype, device=device)
    b = torch.randn(512, 8000, dtype=dtype, device=device)
    out = torch.empty(4096, 8000, dtype=dtype, device=device)
    repeats = 10 if device == "cpu" else 200
    for _ in range(3):
        torch.mm(a, b, out=out)
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b, out=out)
    sync(device)
    return 2 * 4096 * 512 * 8000 * repeats / (time.perf_counter() - start) / 1e9


def sync(device: str) -> None:
    """Wait for queued GPU work, so wall-clock timings cover it."""
    if device != "cpu":
        torch.cuda.synchronize()


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB -> GB


def cache_dir() -> Path:
    return ROOT / ".cache" / "bench"
