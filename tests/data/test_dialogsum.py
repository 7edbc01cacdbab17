"""DialogSum loading: both test layouts, truncation, speaker tags and turn breaks, copy ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from encdec.data.seq2seq import Seq2SeqDataModule, group_references
from encdec.errors import DataError
from encdec.metrics import rouge_f1
from tests.support.own_data_files import preset

ROOT = Path(__file__).resolve().parents[2]


def datamodule(data_dir: Path, vocab_size: int = 500, **kwargs) -> Seq2SeqDataModule:
    """data=dialogsum on <data_dir>/dialogsum (300 training dialogues)."""
    options = {"limit_train": 300, "tokenizer": {"vocab_size": vocab_size}, **kwargs}
    dm = preset("dialogsum", data_dir, ROOT / ".cache", **options)
    dm.prepare_data()
    dm.setup()
    return dm


@pytest.fixture(scope="module")
def dialogsum(data_dir: Path) -> Seq2SeqDataModule:
    return datamodule(data_dir, copy_oov=True)


def test_local_layout(dialogsum: Seq2SeqDataModule) -> None:
    sizes = {name: len(ds) for name, ds in dialogsum.datasets.items()}
    assert sizes == {"train": 300, "val": 500, "test": 500}
    test = dialogsum.datasets["test"]
    assert all(len(refs) == 3 for refs in test.references)
    assert test[0].tgt_text == test.references[0][0]  # the first reference is `summary`
    assert test[0].src_text.startswith("#Person1#: Ms. Dawson, I need you to take a dictation")
    assert max(len(s) for s in test.column("src_ids")) == 400  # long dialogues are truncated...
    assert max(len(t) for t in dialogsum.datasets["train"].column("tgt_ids")) <= 60
    assert max(len(t) for t in test.column("tgt_ids")) > 60  # ...test summaries are not


def test_speaker_tags_and_turn_breaks_survive_tokenization(dialogsum: Seq2SeqDataModule) -> None:
    tok = dialogsum.tokenizer
    docs = dialogsum.split_text("val")["src"][:100]
    tags = [tok.token_to_id(t) for t in ("#Person1#", "#Person2#", "\n")]
    assert None not in tags
    same = 0
    for doc in docs:
        ids = tok.encode(doc, add_special_tokens=False).ids
        for tag, token in zip(("#Person1#", "#Person2#", "\n"), tags, strict=True):
            assert ids.count(token) == doc.count(tag)  # one whole token per tag, none lost
        same += tok.decode(ids) == doc
    assert same >= 98  # decoding gives the dialogue back (2% slack for odd unicode spacing)
    summary = "#Person1#'s friend tells #Person2# about the party."
    assert tok.decode(tok.encode(summary, add_special_tokens=False).ids) == summary


def test_hub_layout_groups_references_by_dialogue(
    dialogsum: Seq2SeqDataModule, tmp_path: Path, data_dir: Path
) -> None:
    """The hub copy: column `dialogue`, and one test row per (dialogue, reference)."""
    rows = [json.loads(line) for line in (data_dir / "dialogsum" / "test.jsonl").open()][:5]
    hub = tmp_path / "dialogsum"
    hub.mkdir()
    with (hub / "test.jsonl").open("w") as f:
        for row in rows:
            for ref in row["references"]:
                f.write(
                    json.dumps({"id": row["id"], "dialogue": row["document"], "summary": ref})
                    + "\n"
                )
    for split in ("train", "validation"):
        with (hub / f"{split}.jsonl").open("w") as f:
            for row in rows:
                f.write(json.dumps({"dialogue": row["document"], "summary": row["summary"]}) + "\n")
    dm = datamodule(tmp_path, source={"source_field": "dialogue"})
    test = dm.datasets["test"]
    assert len(test) == 5
    assert test.references == [row["references"] for row in rows]
    assert test.column("src") == [row["document"] for row in rows]


def test_group_references_keeps_order() -> None:
    docs, refs = group_references(["a", "b", "a", "c", "b"], ["1", "2", "3", "4", "5"])
    assert docs == ["a", "b", "c"] and refs == [["1", "3"], ["2", "5"], ["4"]]


def test_copy_ids_for_source_only_words(tmp_path: Path) -> None:
    """Characters never seen in training are <unk>; copy_oov gives them per-example ids."""
    folder = tmp_path / "dialogsum"
    folder.mkdir()
    train = [{"document": "#Person1#: Hi Bob.\n#Person2#: Hi.", "summary": "Bob says hi."}] * 20
    test = [
        {
            "document": "#Person1#: Hi Ωmar.\n#Person2#: Hi Ωmar, Ж.",
            "summary": "Ωmar says hi.",
            "references": ["Ωmar says hi.", "Hi Ж."],
        }
    ]
    for split, rows in (("train", train), ("validation", test), ("test", test)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    dm = datamodule(tmp_path, copy_oov=True, tokenizer={"vocab_size": 100, "min_frequency": 1})
    vocab = dm.vocab_size_actual
    example = dm.datasets["test"][0]
    assert example.oov[:1] == ["Ω"] and "Ж" in example.oov
    omega = vocab + example.oov.index("Ω")
    assert example.src_ids.count(omega) == 2 and omega in example.tgt_ids
    batch = dm.test_dataloader().collate_fn([example])
    assert batch.src_ext[0].tolist() == example.src_ids
    assert batch.src.max() < vocab and batch.tgt_in.max() < vocab  # the network reads <unk>
    assert omega in batch.tgt_out[0].tolist()  # the copy target
    assert batch.references == [["Ωmar says hi.", "Hi Ж."]]


def test_missing_files_name_the_fix(tmp_path: Path) -> None:
    dm = preset("dialogsum", tmp_path / "nowhere", tmp_path, source={"fallback": None})
    with pytest.raises(DataError, match="Data folder .*nowhere/dialogsum does not exist"):
        dm.prepare_data()


def test_rouge_stems_inflections_only_when_asked() -> None:
    hyps, refs = ["The cats were running"], [["the cat runs"]]
    # Stemmed: the, cat, were, run vs the, cat, run -> P 3/4, R 1, F1 6/7. Unstemmed only "the".
    assert rouge_f1(hyps, refs, stemmer=True)["rouge1"] == pytest.approx(600 / 7, abs=1e-3)
    assert rouge_f1(hyps, refs, stemmer=False)["rouge1"] == pytest.approx(200 / 7, abs=1e-3)


def test_multi_reference_rouge_is_the_best_reference_per_example() -> None:
    hyps = ["the cat sat on the mat", "a dog ran home", "nothing in common"]
    refs = [
        ["a cat sat on a mat", "the cat sat"],
        ["the dog ran to its home", "dog ran"],
        ["x y", "z"],
    ]
    multi = rouge_f1(hyps, refs)
    for key in ("rouge1", "rouge2", "rougeL"):
        best = [
            max(rouge_f1([h], [[r]])[key] for r in rs) for h, rs in zip(hyps, refs, strict=True)
        ]
        assert multi[key] == pytest.approx(sum(best) / len(best), abs=1e-4)
    first = rouge_f1(hyps, [[rs[0]] for rs in refs])
    assert multi["rouge1"] > first["rouge1"]  # more references can only help
