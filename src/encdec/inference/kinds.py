"""Which job a trained model does: "translation", "summarization", "qa" or "retrieval".

Recorded beside the config when a run starts (`recorded_kind`: the chosen `task=` config, else
the config's content) and saved in every checkpoint and model file as `task_kind`, so nothing
guesses it from a class name later. Files written before it was recorded (saved-config versions
1 and 2) get it from their saved config (`kind_of_config`). Plain Python: `encdec.build` imports
this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

TaskKind = Literal["translation", "summarization", "qa", "retrieval"]
KINDS: tuple[str, ...] = get_args(TaskKind)


def kind_of_config(config: Mapping[str, Any]) -> TaskKind:
    """The kind a saved config describes: a QATask answers questions; a RetrievalTask finds
    passages; a Seq2SeqTask scored with ROUGE summarizes; any other Seq2SeqTask translates."""
    task = config.get("task") or {}
    if not isinstance(task, Mapping):
        return "translation"
    target = str(task.get("_target_", "")).rsplit(".", 1)[-1]
    if target == "QATask":
        return "qa"
    if target == "RetrievalTask":
        return "retrieval"
    metric = task.get("metric")
    if isinstance(metric, Mapping):  # a metric object's config (`_target_: ...Rouge`)
        metric = str(metric.get("_target_", "")).rsplit(".", 1)[-1]
    return "summarization" if str(metric).lower() == "rouge" else "translation"


def recorded_kind(config: Mapping[str, Any]) -> TaskKind:
    """The kind to record for a run of `config`: Hydra's choice of `task=` when it names a kind
    (`hydra:runtime.choices.task`), otherwise what the config's content says."""
    try:
        from hydra.core.hydra_config import HydraConfig  # noqa: PLC0415 (only where Hydra runs)

        choice = (
            HydraConfig.get().runtime.choices.get("task") if HydraConfig.initialized() else None
        )
    except Exception:  # Hydra not configured in this process: the content decides
        choice = None
    if choice in KINDS:
        return choice
    return kind_of_config(config)


def saved_kind(saved: Mapping[str, Any], config: Mapping[str, Any]) -> TaskKind:
    """The kind a checkpoint or model file records (`saved["task_kind"]`), or, for files written
    before it was recorded (or holding something else there), the kind its config describes."""
    kind = saved.get("task_kind")
    return kind if kind in KINDS else kind_of_config(config)
