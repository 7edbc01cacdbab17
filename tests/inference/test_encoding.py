"""Semantic vectors: `encdec.load(path).encode(texts)` for every task kind, batched == one by one,
the founding document's `hidden[-1]` end to end through a model file, and the option rules."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import encdec
from encdec import build
from encdec.inference.encoding import Encoding, TextTokens
from encdec.models.retriever import DualEncoder
from encdec.models.transformer import TransformerSeq2Seq
from tests.inference.test_predictor import PanickyTokenizer
from tests.models.test_pooling import Encoder as DocumentEncoder
from tests.support.helpers import (
    QA_CKPT,
    SMALL,
    SUMMARIZATION_CKPT,
    TRANSLATION_CKPT,
    TRANSLATION_MODEL,
    compose_train,
)

TEXTS = [
    "A man in a blue shirt is riding a bike down the street.",
    "Two dogs.",
    "",
    "A group of people stand in front of an igloo while it snows heavily outside.",
    "Children play.",
]


@pytest.mark.parametrize("path", [TRANSLATION_MODEL, SUMMARIZATION_CKPT, QA_CKPT])
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_batched_equals_one_by_one_for_every_kind(path: Path, pooling: str) -> None:
    model = encdec.load(str(path))
    batched = model.encode(TEXTS, pooling=pooling, batch_size=64)
    alone = torch.cat([model.encode(text, pooling=pooling) for text in TEXTS])
    in_twos = model.encode(TEXTS, pooling=pooling, batch_size=2)
    assert batched.dtype == torch.float32 and batched.shape[0] == len(TEXTS)
    assert batched.shape[1] > 1
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched, in_twos, atol=1e-5, rtol=0)
    assert not batched[2].any()  # the blank text: zeros
    assert batched[0].abs().sum() > 0 and not torch.allclose(batched[0], batched[1])
    assert batched.numpy().shape == tuple(batched.shape)  # NumPy on request


def test_default_pooling_is_the_final_state_and_differs_from_the_mean() -> None:
    model = encdec.load(str(TRANSLATION_CKPT))
    default = model.encode(TEXTS[:2])
    torch.testing.assert_close(default, model.encode(TEXTS[:2], pooling="last"))
    assert not torch.allclose(default, model.encode(TEXTS[:2], pooling="mean"))


def test_checkpoint_and_model_file_give_the_same_vectors() -> None:
    from_ckpt = encdec.load(str(TRANSLATION_CKPT)).encode(TEXTS)
    torch.testing.assert_close(from_ckpt, encdec.load(str(TRANSLATION_MODEL)).encode(TEXTS))


def test_transformer_and_dual_encoder_batched_equal_one_by_one() -> None:
    tok = encdec.load(str(TRANSLATION_MODEL)).task.tokenizer  # type: ignore[attr-defined]
    vocab = tok.get_vocab_size()
    torch.manual_seed(0)
    transformer = TransformerSeq2Seq(
        vocab, embedding_dim=16, hidden_dim=16, num_heads=2, ff_dim=32, dropout=0.0
    ).eval()
    dual = DualEncoder(vocab, embedding_dim=8, hidden_dim=8, share="none", dropout=0.0).eval()
    for net, sides in ((transformer, [None]), (dual, [None, "passage", "question"])):
        encoding = Encoding(net, tok, 0, 1024)
        for side in sides:
            batched = encoding.encode(TEXTS, side=side)
            alone = torch.cat([encoding.encode([t], side=side) for t in TEXTS])
            torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
            assert not batched[2].any() and batched[0].abs().sum() > 0
    with pytest.raises(ValueError, match=r"pooling='last' .* choose one of \['mean'\]"):
        Encoding(transformer, tok, 0, 1024).encode(TEXTS, pooling="last")
    passages = Encoding(dual, tok, 0, 1024).encode(TEXTS[:2], side="passage")
    assert not torch.allclose(
        passages, Encoding(dual, tok, 0, 1024).encode(TEXTS[:2], side="question")
    )
    # the dual encoder's vectors are unit length (model.normalize), as its scores expect
    torch.testing.assert_close(passages.norm(dim=-1), torch.ones(2))


@pytest.fixture(scope="module", params=[1, 2], ids=["1-layer", "2-layer"])
def document_shaped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Path:
    """A model file of a unidirectional LSTM seq2seq (embedding -> nn.LSTM, batch_first): the
    founding document's encoder shape (untrained: equality is what is tested)."""
    root = tmp_path_factory.mktemp(f"document{request.param}")
    overrides = [
        *SMALL,
        "model.bidirectional=false",
        f"model.encoder_layers={request.param}",
        f"paths.data_dir={data_dir}",
    ]
    task = build.assemble(compose_train(overrides, root / "run")).task
    return build.write_model_file(task, root / "model.pt")


def test_the_founding_documents_hidden_end_to_end(document_shaped: Path) -> None:
    """encdec.load(model file).encode(text) == the document's Encoder's hidden[-1] bit for bit,
    its weights copied from the file (the document pads nothing); in a padded batch to 1e-6."""
    model = encdec.load(str(document_shaped))
    net = model.task.net  # type: ignore[attr-defined]
    rnn = net.encoder.rnn
    assert isinstance(rnn, torch.nn.LSTM) and rnn.batch_first and not rnn.bidirectional
    torch.manual_seed(7)  # another init than the file's: equality can only come from the copy
    document = DocumentEncoder(
        net.encoder.embedding.num_embeddings,
        net.encoder.embedding.embedding_dim,
        rnn.hidden_size,
        rnn.num_layers,
    ).eval()
    with torch.no_grad():
        document.embedding.weight.copy_(net.encoder.embedding.weight)
        document.lstm.load_state_dict(rnn.state_dict())
    texts = [t for t in TEXTS if t]
    vectors = model.encode(texts)  # batched, padded, sorted by length
    tok = model.task.tokenizer  # type: ignore[attr-defined]
    for text, vector in zip(texts, vectors, strict=True):
        ids = torch.tensor([tok.encode(text, add_special_tokens=False).ids])
        with torch.no_grad():
            hidden, _ = document(ids)
        alone = model.encode(text)[0]
        assert torch.equal(alone, hidden[-1][0])  # the same computation, bit for bit
        torch.testing.assert_close(vector, hidden[-1][0], atol=1e-6, rtol=0)  # padded batch
    assert not torch.allclose(vectors[0], vectors[1])


def test_options_and_inputs_are_checked() -> None:
    model = encdec.load(str(TRANSLATION_MODEL))
    with pytest.raises(ValueError, match=r"pooling='max' is not available .* \['last', 'mean'\]"):
        model.encode(TEXTS, pooling="max")
    with pytest.raises(ValueError, match=r"side='passage' .* \['source'\]"):
        model.encode(TEXTS, side="passage")
    with pytest.raises(ValueError, match="batch_size=0"):
        model.encode(TEXTS, batch_size=0)
    with pytest.raises(ValueError, match=r"sentences\[1\] is not a string"):
        model.encode(["a", 3])  # type: ignore[list-item]
    qa = encdec.load(str(QA_CKPT))
    with pytest.raises(ValueError, match=r"\['question'\]"):
        qa.encode(TEXTS, side="source")
    assert model.encode([]).shape == (0, 32) and model.encode([""]).shape == (1, 32)


def test_unusable_texts_get_zeros_and_a_warning_alone() -> None:
    model = encdec.load(str(TRANSLATION_MODEL))
    clean = model.encode(["Two dogs.", "A cat."])
    model.task.tokenizer = PanickyTokenizer(model.task.tokenizer)  # type: ignore[attr-defined]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectors = model.encode(["Two dogs.", "A BOOM.", "\u200b", "A cat."])
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("sentences[1]: the model's tokenizer failed") for m in messages)
    assert any(m.startswith("sentences[2]: holds only invisible") for m in messages)
    assert all(m.endswith("its vector is zeros.") for m in messages)
    assert not vectors[1].any() and not vectors[2].any()
    torch.testing.assert_close(vectors[[0, 3]], clean)


def test_over_long_texts_are_cut_with_a_warning() -> None:
    model = encdec.load(str(QA_CKPT))  # questions: at most data.max_question_len tokens
    words = sorted(w for w in model.task.tokenizer.get_vocab() if w.isalpha())  # type: ignore[attr-defined]
    long = " ".join(words[:300])
    with pytest.warns(UserWarning, match="only the first"):
        cut = model.encode([long])
    encoding = model.encoding  # type: ignore[attr-defined]
    ids = encoding.tokenizer.encode(long, add_special_tokens=False).ids
    assert len(ids) > encoding.limit
    first = encoding.vectors([TextTokens(ids[: encoding.limit])], None, None, 1)
    torch.testing.assert_close(cut, first)
    assert not torch.allclose(cut, encoding.vectors([TextTokens(ids)], None, None, 1))
