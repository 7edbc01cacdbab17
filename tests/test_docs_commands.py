"""Every command in README.md and docs/*.md composes with the real config.

The code blocks of the docs are read, each `python train.py ...`, `python eval.py ...`,
`python predict.py ...` and `python -m encdec.export ...` command is cut out (line continuations
joined, shell quoting undone, placeholders such as `<best>`, `...` and `$VAR` replaced by a dummy
value) and composed with Hydra's compose API, as the entry point would compose it; nothing runs.
A `-m` sweep composes every combination of its swept values. An unknown key or group option
fails the test, naming the file and line of the command.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = str(REPO / "conf")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: The entry point a command names -> the config it composes.
ENTRY_POINTS = {
    ("train.py",): "train",
    ("eval.py",): "eval",
    ("predict.py",): "predict",
    ("serve.py",): "serve",
    ("-m", "encdec.export"): "export",
    ("embed.py",): "embed",
    ("-m", "encdec.embed"): "embed",
    ("index.py",): "index",
    ("ask.py",): "ask",
}
#: Hydra's own flags that take a value (skipped with it) and those that take none.
FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-dir"}
FLAGS = {"-m", "--multirun", "--info", "-i", "--resolve", "--help", "-h", "--hydra-help"}
SHELL_OPERATORS = {"&", "&&", ";", "|", "||", ">", ">>", "<", "2>", "2>&1"}
MAX_COMBINATIONS = 16
DUMMY = "x"


@dataclass(frozen=True)
class Command:
    source: str  # file:line
    config: str  # train | eval | predict | export
    overrides: tuple[str, ...]
    multirun: bool

    def __str__(self) -> str:
        return f"{self.source}: {self.config} {' '.join(self.overrides)}"


def code_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, body) of every fenced code block of a Markdown text."""
    blocks, body, start, fence = [], [], 0, None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence, start, body = stripped[:3], number + 1, []
        elif fence is not None and stripped.startswith(fence):
            blocks.append((start, "\n".join(body)))
            fence = None
        elif fence is not None:
            body.append(line)
    return blocks


def logical_lines(start: int, body: str) -> list[tuple[int, str]]:
    """The block's lines with `\\` continuations joined, each with its first line's number."""
    lines, pending, first = [], "", start
    for number, line in enumerate(body.splitlines(), start):
        if not pending:
            first = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((first, pending + line))
        pending = ""
    if pending:
        lines.append((first, pending))
    return lines


def placeholder_free(token: str) -> str:
    """`<best>`, `...`, `$VAR` and `${VAR}` replaced by a dummy value (Hydra's `${...}` kept)."""
    token = re.sub(r"<[^<>=\s]+>", DUMMY, token)
    token = token.replace("...", DUMMY)
    return re.sub(r"\$(?!\{[a-z_]+:)\{?[A-Za-z_][A-Za-z0-9_]*\}?", DUMMY, token)


def parse_command(line: str, source: str) -> Command | None:
    """The entry point and overrides of one shell line, or None if it runs no entry point."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if word not in ("python", "python3") and not word.endswith("/python"):
            continue
        match = next(
            (
                (prefix, config)
                for prefix, config in ENTRY_POINTS.items()
                if tuple(words[i + 1 : i + 1 + len(prefix)]) == prefix
            ),
            None,
        )
        if match is None:
            continue
        prefix, config = match
        args = words[i + 1 + len(prefix) :]
        overrides, multirun, skip = [], False, False
        for arg in args:
            if skip:
                skip = False
            elif arg in SHELL_OPERATORS:
                break
            elif arg in FLAGS_WITH_VALUE:
                skip = True
            elif arg in ("-m", "--multirun"):
                multirun = True
            elif arg in FLAGS:
                continue
            else:
                overrides.append(placeholder_free(arg))
        return Command(source, config, tuple(overrides), multirun)
    return None


def extract(path: Path) -> list[Command]:
    """Every entry-point command in the code blocks of one Markdown file."""
    name = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    commands = []
    for start, body in code_blocks(path.read_text()):
        for number, line in logical_lines(start, body):
            command = parse_command(line, f"{name}:{number}")
            if command is not None:
                commands.append(command)
    return commands


def combinations(command: Command) -> list[list[str]]:
    """The override lists a command composes: one, or each combination of a `-m` sweep."""
    if not command.multirun:
        return [list(command.overrides)]
    parsed = OverridesParser.create().parse_overrides(list(command.overrides))
    choices = []
    for override in parsed:
        if override.is_sweep_override():
            key = override.get_key_element()
            values = list(override.sweep_string_iterator())
            choices.append([f"{key}={value}" for value in values])
        else:
            choices.append([override.input_line])
    return [list(c) for c in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS)]


def compose_command(command: Command) -> None:
    """Compose every override list of the command; raises on an unknown key or option."""
    for overrides in combinations(command):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            compose(config_name=command.config, overrides=overrides)


COMMANDS = [command for path in DOCS for command in extract(path)]


def test_the_docs_hold_commands_of_every_entry_point_and_task() -> None:
    assert {c.config for c in COMMANDS} == set(ENTRY_POINTS.values())
    readme = [c for c in COMMANDS if c.source.startswith("README.md")]
    for task in ("translation", "summarization", "qa", "retrieval"):  # one quick start per task
        assert any(f"task={task}" in c.overrides for c in readme), task
    assert any(c.multirun for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_every_docs_command_composes(command: Command) -> None:
    compose_command(command)


def test_extraction_of_continuations_quotes_placeholders_and_sweeps(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Text with `python train.py not=a_command` inline.\n"
        "```bash\n"
        "export ENCDEC_DATA_DIR=/data\n"
        "taskset -c 0 python train.py experiment=multi30k_en_de \\\n"
        "    '+trainer.max_time=\"00:02:10:00\"' run_name=$NAME &   # a comment\n"
        "python eval.py ckpt_path=outputs/<run>/checkpoints/<best>.ckpt split=val\n"
        "python predict.py ckpt_path=... 'question=\"Who won?\"'\n"
        "python -m encdec.export ckpt_path=a.ckpt out=model.pt\n"
        "python train.py -m rnn=lstm,gru attention=bahdanau,none --cfg job\n"
        "python -m encdec.report multirun/<date>/<time>\n"
        "```\n"
    )
    commands = extract(doc)
    assert [(c.source, c.config) for c in commands] == [
        ("doc.md:4", "train"),
        ("doc.md:6", "eval"),
        ("doc.md:7", "predict"),
        ("doc.md:8", "export"),
        ("doc.md:9", "train"),
    ]
    assert commands[0].overrides == (
        "experiment=multi30k_en_de",
        '+trainer.max_time="00:02:10:00"',
        "run_name=x",
    )
    assert commands[1].overrides == ("ckpt_path=outputs/x/checkpoints/x.ckpt", "split=val")
    assert commands[2].overrides == ("ckpt_path=x", 'question="Who won?"')
    sweep = commands[4]
    assert sweep.multirun and combinations(sweep) == [
        ["rnn=lstm", "attention=bahdanau"],
        ["rnn=lstm", "attention=none"],
        ["rnn=gru", "attention=bahdanau"],
        ["rnn=gru", "attention=none"],
    ]


@pytest.mark.parametrize(
    "line",
    [
        "python train.py model.no_such_option=1",
        "python train.py scheduler=no_such_schedule",
        "python train.py -m scheduler=cosine,no_such_schedule",
        "python eval.py ckpt_path=a.ckpt no_such_option=1",
        "python predict.py ckpt_path=a.ckpt no_such_option=1",
        "python -m encdec.export ckpt_path=a.ckpt no_such_option=1",
    ],
)
def test_an_unknown_key_or_group_option_fails(line: str) -> None:
    command = parse_command(line, "test")
    assert command is not None
    with pytest.raises(HydraException):
        compose_command(command)
