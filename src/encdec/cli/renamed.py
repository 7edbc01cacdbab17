"""Options that moved in the redesign of the config (format version 2): an old spelling on the
command line stops with a message naming the new one, instead of Hydra's "not in struct"."""

from __future__ import annotations

import re
import sys

#: Old override (a regular expression over `key=value` or `group=option`) -> what to write now.
RENAMED = {
    r"^\+*rnn=transformer$": "model=transformer (the Transformer is a model, not an RNN cell)",
    r"^\+*task\.(beam_size|val_beam_size|length_penalty|max_len_ratio|max_len_offset|max_len_cap"
    r"|min_length|no_repeat_ngram_size)=": "task.decoding.{0}=...",
    r"^\+*model\.embedding\.pretrained=": "embeddings.vectors=...",
    r"^\+*model\.embedding\.word2vec=": "embeddings.word2vec=...",
    r"^\+*model\.embedding\.freeze=": "model.freeze_embeddings=...",
    r"^\+*model\.compile=": "task.compile=...",
    r"^\+*checkpoint_filename=": "nothing: the task names the best checkpoint after "
    "task.metric.monitor",
    # format version 3: each group builds one object
    r"^\+*task\.label_smoothing=": "task.loss.label_smoothing=...",
    r"^\+*task\.coverage_loss_weight=": "task.loss.coverage_weight=...",
    r"^\+*task\.bleu_tokenize=": "task.metric.tokenize=...",
    r"^\+*task\.rouge_stemmer=": "task.metric.stemmer=...",
    r"^\+*task\.metric=(bleu|rouge)$": "task.metric._target_=encdec.metrics.Bleu "
    "(or encdec.metrics.Rouge: the metric is an object now)",
    r"^\+*task\.scheduler_interval=": "task.scheduler.interval=...",
    r"^\+*task\.monitor=(?:val/)?(.*)$": "task.metric.monitor={0} (a figure of the task's metric)",
    r"^\+*task\.num_samples=": "callbacks.samples.num_samples=...",
    r"^\+*(rnn|attention)=unused$": "nothing: a model without that option takes none "
    "(model=transformer)",
}

#: eval.py / predict.py take their decoding options at the top level (beam_size=...).
ENTRY_POINTS_WITH_TASK = ("train",)


def renamed_message(argument: str) -> str | None:
    """The message for one command-line argument written in an old spelling, else None."""
    for pattern, new in RENAMED.items():
        match = re.match(pattern, argument)
        if match:
            name = argument.split("=", 1)[0].lstrip("+")
            return f"{name}= was renamed: write {new.format(*match.groups())} instead."
    return None


def refuse_renamed_options(entry_point: str, argv: list[str] | None = None) -> None:
    """Exit with one line per old spelling among the command-line arguments (exit code 1)."""
    if entry_point not in ENTRY_POINTS_WITH_TASK:
        return
    messages = [m for a in (sys.argv[1:] if argv is None else argv) if (m := renamed_message(a))]
    if messages:
        print("\n".join(messages), file=sys.stderr)
        sys.exit(1)
