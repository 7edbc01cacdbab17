"""DrQA's and BiDAF's reader options through the real data path: lemma exact match and term
frequency as `data.features` columns (hand-made example), a reader built and trained with them
(its inputs follow the list, its model file answers with them), `embeddings.tune_top_k` leaving
every row but the most frequent question words unchanged after an optimizer step, and the
character-level word encoder (`data.word_chars`) from the columns to the model file's answers
and vectors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import encdec
from encdec import build
from encdec.data.qa_features import word_char_ids
from encdec.data.squad import encode_qa
from encdec.data.tokenization import special_ids
from encdec.errors import ConfigError
from encdec.inference.answering import QuestionAnswerer
from tests.support.helpers import QA_CKPT, QA_SMALL, build_task, compose_train

DRQA = "data.features=[em_cased,em_lower,em_lemma,tf]"


def test_lemma_match_and_term_frequency_columns_of_a_hand_made_example() -> None:
    tok = encdec.load(str(QA_CKPT)).task.tokenizer  # lower-cased words with offsets
    context = "The children walked to the park , and a child walks home"
    question = "Where did the child walk ?"
    columns = encode_qa(tok, [context], [question],
                        features=("em_cased", "em_lower", "em_lemma", "tf"))  # fmt: skip
    words = context.split()
    assert len(columns["em_lemma"][0]) == len(words)
    #                           The children walked to the park , and a child walks home
    assert columns["em_lemma"][0] == [1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0]
    assert columns["em_lower"][0] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    assert columns["em_cased"][0] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]  # "The" != "the"
    the, child = 2 / 12, 1 / 12
    assert columns["tf"][0][0] == pytest.approx(the) and columns["tf"][0][9] == pytest.approx(child)
    default = encode_qa(tok, [context], [question])
    assert "em_lemma" not in default and "tf" not in default  # the two flags, as before


def test_unknown_or_repeated_features_are_refused_in_one_line() -> None:
    for overrides in (["data.features=[em_cased,pos]"], ["data.features=[tf,tf]"]):
        with pytest.raises(ConfigError, match=r"data.features=.*choose each at most once"):
            build.check_config(compose_train([*QA_SMALL, *overrides]))


def test_a_reader_with_drqa_features_trains_and_its_model_file_answers_with_them(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*QA_SMALL, DRQA, "model.num_layers=3"], tmp_path)
    dm, task = build_task(cfg)
    assert task.net.num_features == 4 and task.net.passage_encoder.rnn.num_layers == 3
    batch = dm.datasets["train"].collate(list(dm.datasets["train"].rows[:8]))
    assert batch.features.shape[-1] == 4
    assert batch.features[..., 3].max() < 1 and batch.features[..., 3].max() > 0  # tf
    loss = task.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    reader = encdec.load(str(build.write_model_file(task, tmp_path / "reader.pt")))
    assert isinstance(reader, QuestionAnswerer)
    context = "The Broncos beat the Panthers 24-10 in Santa Clara in 2016."
    span = reader("Who beat the Panthers?", context)
    assert context[span.start : span.end] == span.text


def test_tune_top_k_changes_only_the_most_frequent_question_words(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*QA_SMALL, "embeddings.tune_top_k=20"], tmp_path)
    dm, task = build_task(cfg)
    embedding = task.net.embedding
    before = embedding.weight.detach().clone()
    optimizer = torch.optim.Adam(task.net.parameters(), lr=0.1)
    batch = dm.datasets["train"].collate(list(dm.datasets["train"].rows[:16]))
    task.loss(batch).backward()
    optimizer.step()
    changed = (embedding.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    tok = dm.tokenizer
    counts: dict[int, int] = {}
    for q in tok.encode_batch(dm.training_questions(), add_special_tokens=False):
        for i in q.ids:
            counts[i] = counts.get(i, 0) + 1
    for i in special_ids(tok).values():
        counts.pop(i, None)
    top = sorted(counts, key=lambda i: (-counts[i], i))[:20]
    assert changed and set(changed) <= set(top)  # only the top rows moved...
    in_batch = set(batch.question.flatten().tolist()) | set(batch.passage.flatten().tolist())
    assert set(changed) == set(top) & in_batch  # ... every one this batch used
    assert tok.token_to_id("the") in top and tok.token_to_id("what") in top


def test_tune_top_k_is_refused_where_it_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="tune_top_k tunes some rows, but model.freeze_embeddings"
    ):
        build_task(compose_train([*QA_SMALL, "embeddings.tune_top_k=5",
                                  "model.freeze_embeddings=true"], tmp_path))  # fmt: skip
    with pytest.raises(ConfigError, match="tune_top_k=-1"):
        build.check_config(compose_train([*QA_SMALL, "embeddings.tune_top_k=-1"]))


def test_character_ids_follow_the_kept_words_of_passage_and_question() -> None:
    tok = encdec.load(str(QA_CKPT)).task.tokenizer
    context = "Zwölf Quokkas live on Rottnest Island"
    columns = encode_qa(tok, [context] * 2, ["Where do quokkas live?", "Who?"], word_chars=4,
                        max_passage_len=4, max_question_len=3)  # fmt: skip
    words = context.split()
    chars = {k: [row.tolist() for row in columns[k]] for k in ("passage_chars", "question_chars")}
    assert chars["passage_chars"][0] == word_char_ids(words[:4], 4)  # cased, unseen words too
    assert chars["question_chars"][0] == word_char_ids(["Where", "do", "quokkas"], 4)
    assert chars["question_chars"][1] == word_char_ids(["Who", "?"], 4)
    assert "passage_chars" not in encode_qa(tok, [context], ["Who?"])


def test_a_reader_with_a_character_encoder_trains_and_its_model_file_answers_and_encodes(
    tmp_path: Path, data_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ENCDEC_DATA_DIR", str(data_dir))
    cfg = compose_train([*QA_SMALL, "data.word_chars=6", "model.char_filters=7"], tmp_path)
    dm, task = build_task(cfg)
    assert task.net.word_chars == 6 and task.net.question_encoder.rnn.input_size == 16 + 7
    train = dm.datasets["train"]
    batch = train.collate(list(train.rows[:8]))
    assert batch.passage_chars is not None and batch.question_chars is not None
    assert batch.passage_chars.shape == (*batch.passage.shape, 6)
    assert batch.question_chars.shape == (*batch.question.shape, 6)
    real = batch.passage != special_ids(dm.tokenizer)["pad"]
    assert (batch.passage_chars[real][:, 0] > 0).all() and (batch.passage_chars[~real] == 0).all()
    loss = task.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and task.net.char_encoder.conv.weight.grad.abs().sum() > 0
    reader = encdec.load(str(build.write_model_file(task, tmp_path / "reader.pt")))
    assert isinstance(reader, QuestionAnswerer) and reader.task.net.word_chars == 6
    context = "The Broncos beat the Panthers 24-10 in Santa Clara in 2016."
    span = reader("Who beat the Panthers?", context)
    assert context[span.start : span.end] == span.text
    # A question's vector reads its spelling: two unseen words differ, as one by one.
    both = reader.encode(["Who is Xyzzyq?", "Who is Qwvbnm?"])
    assert not torch.allclose(both[0], both[1])
    torch.testing.assert_close(both[1:], reader.encode(["Who is Qwvbnm?"]))
