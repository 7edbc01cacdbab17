"""Saved configs of format version 2 in the version-3 layout of the task node (plain dict
surgery on a copy: nothing is built). Version 3 made each group build one object:

- `task.scheduler` (a scheduler factory) + `task.scheduler_interval` -> one `LRSchedule` node;
- `task.label_smoothing` / `task.coverage_loss_weight` -> the `task.loss` record;
- `task.metric` ("bleu" | "rouge") + `task.bleu_tokenize` / `task.rouge_stemmer` -> a metric
  object (`encdec.metrics.Bleu(tokenize)`, `Rouge(stemmer)`); QA's -> `SquadMetrics`;
- `task.monitor` (`val/<figure>`) -> the metric's `monitor` (`<figure>`);
- `task.num_samples` -> the sample table's own option (`callbacks.samples.num_samples`).

The model node kept its layout (`rnn_type`, `attention`), so it passes unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

SEQ2SEQ = "encdec.tasks.Seq2SeqTask"
QA = "encdec.tasks.QATask"
LR_SCHEDULE = "encdec.tasks.LRSchedule"
#: The figures each metric may monitor (encdec.metrics); another saved monitor keeps the default.
FIGURES = {
    "encdec.metrics.Bleu": ("bleu",),
    "encdec.metrics.Rouge": ("rouge1", "rouge2", "rougeL"),
    "encdec.metrics.SquadMetrics": ("em", "f1"),
}


def _upgrade_task(task: dict[str, Any]) -> dict[str, Any]:
    scheduler = task.pop("scheduler", None)
    interval = task.pop("scheduler_interval", "epoch")
    if isinstance(scheduler, dict) and scheduler.get("_target_") != LR_SCHEDULE:
        scheduler = {"_target_": LR_SCHEDULE, "scheduler": scheduler, "interval": interval}
    task["scheduler"] = scheduler
    task.pop("num_samples", None)
    target = task.get("_target_")
    if target == SEQ2SEQ:
        if not isinstance(task.get("loss"), dict):
            task["loss"] = {
                "_target_": "encdec.tasks.LossSettings",
                "label_smoothing": task.pop("label_smoothing", 0.0),
                "coverage_weight": task.pop("coverage_loss_weight", 1.0),
            }
        metric = task.get("metric", "bleu")
        stemmer = task.pop("rouge_stemmer", True)
        tokenize = task.pop("bleu_tokenize", "13a")  # (older checkpoints: 13a)
        if not isinstance(metric, dict):
            task["metric"] = (
                {"_target_": "encdec.metrics.Rouge", "stemmer": stemmer}
                if metric == "rouge"
                else {"_target_": "encdec.metrics.Bleu", "tokenize": tokenize}
            )
    elif target == QA and not isinstance(task.get("metric"), dict):
        task["metric"] = {"_target_": "encdec.metrics.SquadMetrics"}
    monitor = str(task.pop("monitor", "")).removeprefix("val/")
    metric = task.get("metric")
    if isinstance(metric, dict) and monitor in FIGURES.get(metric.get("_target_", ""), ()):
        metric.setdefault("monitor", monitor)
    return task


def upgrade_v3(config: dict[str, Any]) -> dict[str, Any]:
    """A version-2 saved config with its task node in the version-3 layout (a copy; a config
    already in that layout comes back equal)."""
    config = copy.deepcopy(config)
    task = config.get("task")
    if isinstance(task, dict):
        samples = task.get("num_samples")
        config["task"] = _upgrade_task(task)
        callback = (config.get("callbacks") or {}).get("samples")
        if isinstance(callback, dict) and samples is not None:
            callback.setdefault("num_samples", samples)
    return config
