"""A user's QA files (encdec.data.qa_files): the official SQuAD v1.1 JSON and JSON lines with other
field names become the rows of the built-in squad/*.jsonl; every format error names the file and
the record, and says how to fix it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from encdec.data.qa import QADataModule
from encdec.data.qa_files import read_qa_file
from encdec.data.sources import Hub, QAFiles
from encdec.errors import ConfigError, DataError


def nest(rows: list[dict]) -> dict:
    """Rows in the hub layout -> the official SQuAD v1.1 JSON (articles, paragraphs, qas)."""
    data: list[dict] = []
    for row in rows:
        if not data or data[-1]["title"] != row["title"]:
            data.append({"title": row["title"], "paragraphs": []})
        paragraphs = data[-1]["paragraphs"]
        if not paragraphs or paragraphs[-1]["context"] != row["context"]:
            paragraphs.append({"context": row["context"], "qas": []})
        answers = row["answers"]
        paragraphs[-1]["qas"].append(
            {
                "id": row["id"],
                "question": row["question"],
                "answers": [
                    {"text": t, "answer_start": s}
                    for t, s in zip(answers["text"], answers["answer_start"], strict=True)
                ],
            }
        )
    return {"version": "1.1", "data": data}


def jsonl_rows(path: Path, limit: int | None = None) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:limit]]


@pytest.fixture(scope="module")
def dev_json(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official dev-v1.1.json, unzipped from the shared data folder."""
    folder = tmp_path_factory.mktemp("squad_official")
    with zipfile.ZipFile(data_dir / "squad" / "dev-v1.1.json.zip") as archive:
        archive.extract("dev-v1.1.json", folder)
    return folder / "dev-v1.1.json"


def test_the_official_file_reads_as_the_built_in_rows(dev_json: Path, data_dir: Path) -> None:
    assert list(read_qa_file(dev_json, "squad_json")) == jsonl_rows(
        data_dir / "squad" / "validation.jsonl"
    )


def test_jsonl_with_other_field_names(data_dir: Path, tmp_path: Path) -> None:
    """Nested fields by dotted path; answers as a list of objects, one object, or a bare string."""
    rows = jsonl_rows(data_dir / "squad" / "validation.jsonl", 50)
    path = tmp_path / "mine.jsonl"
    lines = []
    for i, r in enumerate(rows):
        spans = [
            {"t": t, "s": s}
            for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"], strict=True)
        ]
        answer = spans if i % 3 == 0 else spans[0] if i % 3 == 1 else spans[0]["t"]
        record = {"qid": r["id"], "item": {"q": r["question"], "passage": r["context"]}}
        lines.append(json.dumps({**record, "gold": answer}, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    fields = {
        "id": "qid",
        "question": "item.q",
        "context": "item.passage",
        "answers": "gold",
        "answer_text": "t",
        "answer_start": "s",
    }
    got = list(read_qa_file(path, "jsonl", fields))
    for i, (row, want) in enumerate(zip(got, rows, strict=True)):
        assert (row["id"], row["question"], row["context"], row["title"]) == (
            want["id"],
            want["question"],
            want["context"],
            "",
        )
        answers = want["answers"]
        if i % 3 == 0:
            assert row["answers"] == answers
        elif i % 3 == 1:
            assert row["answers"] == {k: v[:1] for k, v in answers.items()}
        else:  # a bare string: its first occurrence in the context
            text = answers["text"][0]
            assert row["answers"] == {"text": [text], "answer_start": [want["context"].find(text)]}


GOOD = {"id": "q1", "question": "Who?", "context": "Ann ran.", "answers": [
    {"text": "Ann", "answer_start": 0}]}  # fmt: skip


def squad(qa: dict, context: str = "Ann ran.") -> str:
    return json.dumps({"data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa]}]}]})


BAD_FILES = {
    "bad JSON": (
        "squad_json",
        '{"data": [\n  {"title": "T",\n   "paragraphs": [}\n]}',
        ["line 3, column 19", "not valid JSON", "data.source.format=jsonl"],
    ),
    "JSON lines given as squad_json": (
        "squad_json",
        json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n",
        ["line 2, column 1", "Extra data", "for one question a line use data.source.format=jsonl"],
    ),
    "not SQuAD v1.1 layout": (
        "squad_json",
        json.dumps({"questions": [GOOD]}),
        ["the top level has no 'data' field", "['questions']", "not the SQuAD v1.1 layout"],
    ),
    "missing question": (
        "squad_json",
        squad({"id": "q1", "answers": [{"text": "Ann", "answer_start": 0}]}),
        ["data[0].paragraphs[0].qas[0] has no 'question' field"],
    ),
    "answer_start out of range": (
        "squad_json",
        squad({**GOOD, "answers": [{"text": "ran", "answer_start": 40}]}),
        [
            "data[0].paragraphs[0].qas[0] (question q1), answer 0: answer_start=40",
            "outside the 8-character context",
            "counts characters",
        ],
    ),
    "unanswerable (SQuAD v2)": (
        "squad_json",
        squad({**GOOD, "answers": [], "is_impossible": True}),
        ["(question q1): no answers", "SQuAD v2.0"],
    ),
    "jsonl bad line": (
        "jsonl",
        json.dumps(GOOD) + "\n" + '{"id": "q2", "question": "Who?"\n',
        ["line 2, column 32", "not valid JSON", "data.source.format=squad_json"],
    ),
    "jsonl missing field": (
        "jsonl",
        json.dumps(GOOD) + "\n" + json.dumps({"id": "q2", "query": "Who?", "context": "Ann"}),
        [
            "line 2: no field 'question'",
            "['context', 'id', 'query']",
            "data.source.fields.question=",
        ],
    ),
    "jsonl answer not in context": (
        "jsonl",
        json.dumps({**GOOD, "answers": "Bob"}),
        ["line 1: the answer 'Bob' does not occur in the context"],
    ),
    "empty file": ("jsonl", "\n", ["holds no questions"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_format_errors_name_file_record_and_fix(case: str, tmp_path: Path) -> None:
    format, text, expected = BAD_FILES[case]
    path = tmp_path / "mine.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as err:
        list(read_qa_file(path, format))
    assert str(path) in str(err.value)
    for part in expected:
        assert part in str(err.value)


def test_datamodule_option_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.splits.val is not set"):
        QADataModule(QAFiles(), str(tmp_path), {"train": "a.json"})
    with pytest.raises(ConfigError, match=r"data.source.format='xml': choose one of jsonl, squad"):
        QAFiles(format="xml")
    with pytest.raises(ConfigError, match=r"data.source.fields.passage: not a field role"):
        QAFiles(fields={"passage": "p"})
    with pytest.raises(ConfigError, match=r"data.tokenizer.kind='bpe' does not fit.*lower_word"):
        QADataModule(QAFiles(), str(tmp_path), {"train": "a", "val": "b"}, {"kind": "bpe"})


def own_files(tmp_path: Path, train: str, val: str, **source) -> QADataModule:
    """data=squad_json: each split its own file."""
    return QADataModule(
        QAFiles(pattern="{split}", **source),
        str(tmp_path),
        {"train": train, "val": val},
        cache_dir=str(tmp_path / "cache"),
    )


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"question id 'q1' occurs twice"):
        own_files(tmp_path, "dup.jsonl", str(path)).prepare_data()
    assert not list((tmp_path / "cache").glob("rows/*.arrow"))  # nothing cached


def test_a_url_is_downloaded_once_into_the_data_folder(
    tmp_path: Path, http_folder: tuple[str, Path]
) -> None:
    """data.splits.* may be an http(s) URL: fetched once into the data folder, then reused."""
    url, served = http_folder
    (served / "my-squad.json").write_text(squad(GOOD), encoding="utf-8")
    module = own_files(
        tmp_path / "data", f"{url}/my-squad.json", f"{url}/my-squad.json", format="squad_json"
    )
    assert module.split("train")["question"] == ["Who?"] and module.split("val")["id"] == ["q1"]
    assert (tmp_path / "data" / "my-squad.json").read_bytes() == (
        served / "my-squad.json"
    ).read_bytes()
    (served / "my-squad.json").unlink()  # gone from the server: the copy is read
    again = own_files(
        tmp_path / "data", f"{url}/my-squad.json", f"{url}/my-squad.json", format="squad_json"
    )
    assert again.split("test")["id"] == ["q1"] and again.splits["test"] == again.splits["val"]


def test_missing_files_fall_back_to_the_hub_copy(data_dir: Path, tmp_path: Path) -> None:
    """data=squad without local files: the hub dataset (here a local folder loaded through the
    same datasets.load_dataset call), read in its own `squad` layout."""
    rows = jsonl_rows(data_dir / "squad" / "validation.jsonl", 30)
    hub = tmp_path / "hub"
    hub.mkdir()
    for split in ("train", "validation"):
        (hub / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    module = QADataModule(
        QAFiles(fallback=Hub(name=str(hub))),
        str(tmp_path / "no_local_files"),
        {"train": "train", "val": "validation"},
        cache_dir=str(tmp_path / "cache"),
    )
    assert module.split("val").to_list() == rows
    with pytest.raises(DataError, match=r"QA data file not found.*data.source.fallback.name"):
        own_files(tmp_path, "absent.json", "absent.json").prepare_data()
