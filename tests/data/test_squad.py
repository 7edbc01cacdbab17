"""SQuAD data: word offsets, answer spans and windows on real questions; the cached DataModule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from encdec.data.qa import QADataModule
from encdec.data.squad import answer_token_span, choose_window, encode_qa
from encdec.data.tokenization import train_word_level
from tests.support.own_data_files import preset

ODD = ("\u200b", "\u200e", "\u2009", "\u202f", "\u3000", "\n", "  ")  # odd spaces, invisible marks


def read_jsonl(path: Path, keep=lambda row: True) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [row for row in map(json.loads, f) if keep(row)]


@pytest.fixture(scope="module")
def odd_train(data_dir: Path) -> list[dict]:
    """Real training questions whose paragraph has unicode spaces, invisible marks or newlines."""
    rows = read_jsonl(
        data_dir / "squad" / "train.jsonl", lambda r: any(c in r["context"] for c in ODD)
    )
    assert len(rows) > 900 and {c for c in ODD if any(c in r["context"] for r in rows)} == set(ODD)
    return rows


@pytest.fixture(scope="module")
def dev(data_dir: Path) -> list[dict]:
    return read_jsonl(data_dir / "squad" / "validation.jsonl")


def gold_substrings(rows: list[dict]) -> list[tuple[str, str]]:
    """(answer text, context text cut at the answer's token span) of each question."""
    tok = train_word_level([r["context"] for r in rows[:50]], vocab_size=1000)
    enc = encode_qa(
        tok,
        [r["context"] for r in rows],
        [r["question"] for r in rows],
        [r["answers"] for r in rows],
    )
    out = []
    for j, row in enumerate(rows):
        s, e = enc["start"][j], enc["end"][j]
        assert 0 <= s <= e, row["id"]
        out.append(
            (
                row["answers"]["text"][0],
                row["context"][enc["tok_start"][j][s] : enc["tok_end"][j][e]],
            )
        )
    return out


@pytest.mark.parametrize("split", ["odd_train", "dev"])
def test_answer_spans_cut_back_to_the_exact_answer_text(split: str, request) -> None:
    """Token offsets index the raw context: the gold span's substring is the answer itself,
    unless the answer starts or ends inside a word (e.g. "50" of "50th"), where it is that word."""
    pairs = gold_substrings(request.getfixturevalue(split))
    exact = sum(answer == cut for answer, cut in pairs)
    assert all(answer in cut for answer, cut in pairs)
    assert exact / len(pairs) > 0.98, [p for p in pairs if p[0] != p[1]][:10]


def test_offsets_skip_unicode_spaces_and_invisible_marks() -> None:
    context = "Levi's\u00a0Stadium \u200bhosted  Super\u3000Bowl\u202f50 on\nFebruary 7, 2016 (Santa Clara)."
    tok = train_word_level([context], vocab_size=100)
    enc = encode_qa(tok, [context], ["Where was Super Bowl 50?"])
    words = [context[s:e] for s, e in zip(enc["tok_start"][0], enc["tok_end"][0], strict=True)]
    assert words == [
        "Levi", "'", "s", "Stadium", "hosted", "Super", "Bowl", "50", "on", "February",
        "7", ",", "2016", "(", "Santa", "Clara", ")", ".",
    ]  # fmt: skip
    # Exact-match flags: Super, Bowl and 50 occur in the question (as written and lower-cased).
    flagged = [w for w, f in zip(words, enc["em_cased"][0], strict=True) if f]
    assert flagged == ["Super", "Bowl", "50"]
    assert enc["em_lower"][0] == enc["em_cased"][0]


def test_answer_token_span_covers_partial_words() -> None:
    starts, ends = [0, 6, 11], [5, 10, 15]  # "Super Bowl 50th"
    assert answer_token_span(starts, ends, 6, "Bowl") == (1, 1)
    assert answer_token_span(starts, ends, 6, "Bowl 50") == (1, 2)
    assert answer_token_span(starts, ends, 5, " ") == (-1, -1)


def test_windows_hold_the_answer_or_say_none() -> None:
    assert choose_window(100, (10, 12), 300, 128, "window") == 0  # short passage: whole
    assert choose_window(1000, (10, 12), 300, 128, "window") == 0
    assert choose_window(1000, (500, 510), 300, 128, "window") == 256
    assert choose_window(1000, (990, 999), 300, 128, "window") == 700  # the last, flush window
    assert choose_window(1000, (500, 510), 300, 128, "truncate") is None
    assert choose_window(1000, (100, 500), 300, 128, "window") is None  # longer than a window


def test_long_passages_are_windowed_for_training_and_truncated_for_evaluation(dev) -> None:
    rows = [r for r in dev if r["answers"]["answer_start"][0] > 1500][:40]
    tok = train_word_level([r["context"] for r in rows], vocab_size=5000)
    args = (
        [r["context"] for r in rows],
        [r["question"] for r in rows],
        [r["answers"] for r in rows],
    )
    for mode in ("window", "truncate"):
        enc = encode_qa(
            tok, *args, max_passage_len=100, window_stride=50, long_passages=mode, train=True
        )
        for j, row in enumerate(rows):
            assert len(enc["passage_ids"][j]) <= 100
            if mode == "truncate":  # every answer is past token 100: all dropped, none crash
                assert not enc["keep"][j] and enc["start"][j] == -1
            elif enc["keep"][j]:
                s, e = enc["start"][j], enc["end"][j]
                cut = row["context"][enc["tok_start"][j][s] : enc["tok_end"][j][e]]
                assert row["answers"]["text"][0] in cut
        if mode == "window":
            assert sum(enc["keep"]) == len(rows)
    enc = encode_qa(tok, *args, max_passage_len=100)  # evaluation: cut, kept, span unknown
    assert all(enc["keep"]) and set(enc["start"]) == {-1}


def test_datamodule_encodes_once_and_reloads_from_the_arrow_cache(
    data_dir: Path, tmp_path: Path
) -> None:
    def build() -> QADataModule:
        options = {"limit_train": 500, "limit_eval": 200, "max_tokens": 2000}
        dm = preset("squad", data_dir, tmp_path, tokenizer={"vocab_size": 2000}, **options)
        dm.prepare_data()
        dm.setup()
        return dm

    dm = build()
    assert len(dm.datasets["train"]) == 500 and len(dm.datasets["val"]) == 200
    assert dm.datasets["test"] is dm.datasets["val"]  # test = dev, encoded once
    cached = sorted(p.name for p in (tmp_path / "datasets").glob("squad-*.arrow"))
    assert [n.split("-")[1] for n in cached] == ["train", "val"]
    started = time.perf_counter()
    again = build()
    assert time.perf_counter() - started < 5
    assert sorted(p.name for p in (tmp_path / "datasets").glob("squad-*.arrow")) == cached
    batch = next(iter(again.val_dataloader()))
    assert batch.passage.shape == batch.features.shape[:2] and batch.features.shape[2] == 2
    raw = again.split("val")
    assert batch.qids == [raw[i]["id"] for i in batch.index.tolist()]
    # Exact-match flags are 1 only at passage words that occur in the question.
    assert 0 < batch.features.sum() < batch.passage_lengths.sum()
