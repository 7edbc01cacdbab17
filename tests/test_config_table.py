"""The README's config-group table is true to conf/: every option it lists exists, every option
in conf/ is listed, every override composes and passes the pre-data-load check with every task
it is listed for, and with any other task stops with one line naming the option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from encdec import build
from encdec.cli.common import CONF_DIR, ROOT
from encdec.errors import ConfigError
from tests.helpers import compose_train

#: Options that need a value of the user's before they build (a file, a dataset name).
REQUIRED = {
    "text_pairs": ["data.splits.train=train.tsv", "data.held_out_size=10"],
    "hf_pairs": [
        "data.source.name=some/dataset",
        "data.source.source_field=en",
        "data.source.target_field=de",
    ],
    "squad_json": ["data.splits.train=train.json", "data.splits.val=dev.json"],
}
#: The groups whose options depend on the task.
PER_TASK = ("data", "tokenizer", "model", "rnn", "attention", "scheduler")


def readme_table() -> dict[str, dict[str, set[str] | None]]:
    """group -> option -> the tasks it is listed for (None: every task)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("| group | options |")
    rows = [line for line in text[start:].split("\n\n")[0].splitlines()[2:] if line.strip()]
    table: dict[str, dict[str, set[str] | None]] = {}
    for row in rows:
        groups_cell, options_cell = row.strip("|").split("|")[:2]
        options: dict[str, set[str] | None] = {}
        # "`a`, `b` (translation, summarization); `c` (qa)": each part's tasks in parentheses
        for part in options_cell.split(";"):
            names = re.findall(r"`([^`]+)`", part.split("(")[0])
            tasks = re.search(r"\(([^)]*)\)", part)
            listed = {t.strip() for t in tasks.group(1).split(",")} if tasks else None
            options.update(dict.fromkeys(names, listed))
        for group in re.findall(r"`([^`]+)`", groups_cell):
            table[group] = options
    return table


TABLE = readme_table()
TASKS = sorted(TABLE["task"])


def conf_options(group: str) -> set[str]:
    return {p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml")}


def test_the_table_lists_every_group_and_option_of_conf_and_no_other() -> None:
    groups = {p.name for p in Path(CONF_DIR).iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert set(TABLE) == groups
    for group, options in TABLE.items():
        if group in ("trainer", "callbacks", "paths"):
            assert set(options) <= conf_options(group), group
        else:
            assert set(options) == conf_options(group), group
    assert {"text_pairs", "hf_pairs", "squad_json"} <= set(TABLE["data"])


CASES = [
    (task, group, option, listed is None or task in listed)
    for group in PER_TASK
    for option, listed in TABLE[group].items()
    for task in TASKS
]


@pytest.mark.parametrize(("task", "group", "option", "applies"), CASES)
def test_every_override_builds_with_every_task_it_applies_to(
    task: str, group: str, option: str, applies: bool
) -> None:
    cfg = compose_train([f"task={task}", f"{group}={option}", *REQUIRED.get(option, [])])
    if applies:
        build.check_config(cfg)
        return
    with pytest.raises(ConfigError) as refused:
        build.check_config(cfg)
    message = str(refused.value)
    assert "\n" not in message and group in message, message
