"""An encoder carried between tasks (`init.*`): a trained translation encoder starts a QA reader.

The source is the legacy translation checkpoint (a trained LSTM + Bahdanau model: 16-dim
embeddings, a 1-layer bidirectional LSTM of 16 units per direction, a 500-token BPE vocabulary).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from encdec import build
from encdec.artifacts import tokenizer_hash
from encdec.callbacks.freeze import FreezeParameters
from encdec.data.tokenization import placeholder_tokenizer
from encdec.errors import ConfigError
from encdec.models.encoder import Encoder
from encdec.models.reader import DocumentReader
from encdec.models.retriever import DualEncoder
from encdec.models.seq2seq import Seq2Seq
from encdec.models.transfer import carry_encoder, source_encoder
from encdec.models.transformer import TransformerSeq2Seq
from tests.support.helpers import (
    QA_CKPT,
    QA_SMALL,
    SMALL,
    TRANSLATION_CKPT,
    TRANSLATION_MODEL,
    compose_train,
)

#: The reader built in the source encoder's shape (SMALL already gives embedding_dim=16).
FITS = ["model.hidden_dim=16", "model.num_layers=1"]


def qa_config(tmp_path: Path, *extra: str, source: Path = TRANSLATION_CKPT):
    return compose_train([*QA_SMALL, f"init.encoder_from={source}", *extra], tmp_path)


@pytest.fixture(scope="module")
def source() -> nn.Module:
    return build.load_checkpoint(TRANSLATION_CKPT).task


def same_as_source(net: nn.Module, source: nn.Module) -> dict[str, bool]:
    """For each reader weight that carries the source's: whether it equals the source's."""
    enc = source.net.encoder
    result = {"embedding": torch.equal(net.embedding.weight, enc.embedding.weight)}
    for side in ("question_encoder", "passage_encoder"):
        rnn = getattr(net, side).rnn
        for name, weight in enc.rnn.named_parameters():
            mine = getattr(rnn, name)
            if name.startswith("weight_ih_l0"):  # the passage also reads features: more columns
                mine = mine[:, : weight.shape[1]]
            result[f"{side}.{name}"] = torch.equal(mine, weight)
    return result


def test_translation_encoder_starts_the_qa_reader(tmp_path: Path, source: nn.Module) -> None:
    """Before the first step the reader's embedding and both encoders are the source's, and
    the QA data are encoded with the source's tokenizer."""
    cfg = qa_config(tmp_path, *FITS)
    build.check_config(cfg)
    parts = build.assemble(cfg)
    net = parts.task.net
    checks = same_as_source(net, source)
    assert len(checks) == 1 + 2 * 8 and all(checks.values()), checks
    assert tokenizer_hash(parts.task.tokenizer) == tokenizer_hash(source.tokenizer)
    parts.datamodule.setup()
    batch = next(iter(parts.datamodule.train_dataloader()))
    assert int(batch.passage.max()) < source.tokenizer.get_vocab_size()
    assert "net.question_encoder.rnn.weight_hh_l0" in parts.carried
    assert "net.start_scorer.weight" not in parts.carried
    # Without init the same config builds another (random) reader.
    scratch = build.assemble(compose_train([*QA_SMALL, *FITS], tmp_path)).task.net
    assert not any(same_as_source(scratch, source).values())


def test_a_model_file_is_a_source_too(tmp_path: Path, source: nn.Module) -> None:
    parts = build.assemble(qa_config(tmp_path, *FITS, source=TRANSLATION_MODEL))
    assert all(same_as_source(parts.task.net, source).values())


class Snapshots(L.Callback):
    """The carried embedding after each optimizer step."""

    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *_) -> None:
        self.seen.append(pl_module.net.embedding.weight.detach().clone())


def fit(tmp_path: Path, steps: int, freeze: int) -> tuple[build.Assembled, Snapshots]:
    torch.manual_seed(0)
    parts = build.assemble(qa_config(tmp_path, *FITS, f"init.freeze_encoder_steps={freeze}"))
    snapshots = Snapshots()
    trainer = L.Trainer(
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[*FreezeParameters.for_carried(parts.carried, parts.freeze_steps), snapshots],
    )
    trainer.fit(parts.task, datamodule=parts.datamodule)
    assert trainer.global_step == steps
    return parts, snapshots


@pytest.mark.parametrize(("freeze", "unchanged_steps"), [(-1, 3), (1, 1), (0, 0)])
def test_freezing_keeps_the_carried_weights_for_n_steps(
    tmp_path: Path, source: nn.Module, freeze: int, unchanged_steps: int
) -> None:
    """-1: the carried weights equal the source's after every step; N=1: after the first step
    only; 0: they train from the first step. The reader's own layers train in every case."""
    parts, snapshots = fit(tmp_path, 3, freeze)
    start = source.net.encoder.embedding.weight
    equal = [torch.equal(w, start) for w in snapshots.seen]
    assert equal == [i < unchanged_steps for i in range(3)], equal
    checks = same_as_source(parts.task.net, source)
    assert all(checks.values()) if freeze == -1 else not all(checks.values()), checks
    assert all(p.requires_grad for p in parts.task.parameters())  # as built, after fit


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["model.hidden_dim=32", "model.num_layers=1"], "rnn.weight_ih_l0 is (64, 16) in the"),
        (["model.hidden_dim=16"], "rnn.weight_ih_l1 is absent in the source and (64, 32) here"),
        ([*FITS, "model.bidirectional=false"], "weight_ih_l0_reverse is (64, 16) in the source"),
        ([*FITS, "rnn=gru"], "the source encoder is rnn=lstm and DocumentReader.passage_encoder"),
        ([*FITS, "model.embedding_dim=8"], "embedding has dimension 8 here and 16 in"),
    ],
)
def test_shapes_that_do_not_fit_stop_with_one_line(
    tmp_path: Path, extra: list[str], named: str
) -> None:
    with pytest.raises(ConfigError) as err:
        build.check_config(qa_config(tmp_path, *extra))
    message = str(err.value)
    assert "\n" not in message and named in message, message
    fix = "model.embedding_dim=16 model.hidden_dim=16 model.num_layers=1 model.bidirectional=true"
    assert fix in message and message.endswith("rnn=lstm."), message


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("init.tokenizer=theirs", "init.tokenizer='theirs': give source"),
        ("init.freeze_encoder_steps=-2", "init.freeze_encoder_steps=-2: give 0"),
        ("init.encoder_from=missing.ckpt", "init.encoder_from=missing.ckpt: no such file"),
        ("embeddings.vectors=glove.txt", "init.encoder_from and embeddings.vectors both"),
    ],
)
def test_options_are_checked(tmp_path: Path, option: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        build.check_config(qa_config(tmp_path, *FITS, option))
    assert named in str(err.value) and "\n" not in str(err.value)


def test_the_source_files_trust_rules_apply(tmp_path: Path) -> None:
    """A source that is not encdec's is refused by its own reader, one line."""
    bad = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(build.CheckpointError) as err:
        build.check_config(qa_config(tmp_path, *FITS, source=bad))
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_own_tokenizer_carries_the_rnn_only(tmp_path: Path, source: nn.Module) -> None:
    parts = build.assemble(qa_config(tmp_path, *FITS, "init.tokenizer=own"))
    checks = same_as_source(parts.task.net, source)
    assert not checks.pop("embedding") and all(checks.values())
    assert tokenizer_hash(parts.task.tokenizer) != tokenizer_hash(source.tokenizer)


def test_carry_into_a_seq2seq_and_a_dual_encoder(source: nn.Module) -> None:
    """The same building blocks take it: a translation or summarization network's encoder,
    and both sides of a retrieval dual encoder (whatever they share)."""
    enc = source_encoder(source.net, "src")
    seq2seq = Seq2Seq(500, embedding_dim=16, hidden_dim=32, bidirectional=True)
    carried = carry_encoder(enc, seq2seq, "src")
    assert torch.equal(seq2seq.encoder.rnn.weight_hh_l0, enc.rnn.weight_hh_l0)
    assert "encoder.embedding.weight" in carried and not any("decoder" in n for n in carried)
    for share in ("encoder", "embedding", "none"):
        dual = DualEncoder(500, embedding_dim=16, hidden_dim=16, num_layers=1, share=share)
        carry_encoder(enc, dual, "src")
        sides = [m for m in dual.modules() if isinstance(m, Encoder)]
        assert len(sides) == (1 if share == "encoder" else 2)
        for side in sides:
            assert torch.equal(side.embedding.weight, enc.embedding.weight)
            assert torch.equal(side.rnn.weight_ih_l0_reverse, enc.rnn.weight_ih_l0_reverse)
    with pytest.raises(ConfigError, match="model.encoder_hidden_dim=16 model.encoder_layers=1"):
        carry_encoder(enc, Seq2Seq(500, embedding_dim=16, hidden_dim=64), "src")


def test_a_summarizer_starts_from_the_translation_encoder(
    tmp_path: Path, source: nn.Module
) -> None:
    """The summarizer (DialogSum, its speaker tags now read with the source's BPE) takes the
    encoder; its decoder starts as built."""
    overrides = [*SMALL, "task=summarization", f"init.encoder_from={TRANSLATION_CKPT}"]
    parts = build.assemble(compose_train(overrides, tmp_path))
    enc, mine = source.net.encoder, parts.task.net.encoder
    assert all(torch.equal(a, b) for a, b in zip(enc.parameters(), mine.parameters(), strict=True))
    assert not torch.equal(
        parts.task.net.decoder.embedding.weight, source.net.decoder.embedding.weight
    )
    assert tokenizer_hash(parts.task.tokenizer) == tokenizer_hash(source.tokenizer)


def test_another_vocabulary_is_refused_with_one_line(source: nn.Module) -> None:
    """Should the data not take the source's tokenizer, the embedding would pair other ids."""
    init = build.EncoderInit(encoder_from=str(TRANSLATION_CKPT))
    net = DocumentReader(120, embedding_dim=16, hidden_dim=16, num_layers=1)
    with pytest.raises(ConfigError, match="the data did not take the source's tokenizer"):
        init.apply(net, source, placeholder_tokenizer())
    enc = source_encoder(source.net, "src")
    with pytest.raises(ConfigError, match=r"embedding.weight \(vocabulary x dimension\) is "):
        carry_encoder(enc, Seq2Seq(499, embedding_dim=16, hidden_dim=32), "src")
    assert not torch.equal(net.embedding.weight[:120], enc.embedding.weight[:120])  # untouched


def test_which_encoder_a_source_gives_and_what_cannot_carry(source: nn.Module) -> None:
    """A QA reader's source encoder is its question encoder (the passage one reads features);
    a Transformer takes no RNN encoder, a character reader gives none: one line each."""
    reader = build.load_checkpoint(QA_CKPT).task.net
    assert source_encoder(reader, "qa") is reader.question_encoder
    with pytest.raises(ConfigError, match="model=TransformerSeq2Seq has no RNN encoder"):
        carry_encoder(source_encoder(source.net, "src"), TransformerSeq2Seq(500), "src")
    with pytest.raises(ConfigError, match="its network \\(TransformerSeq2Seq\\) has no RNN"):
        source_encoder(TransformerSeq2Seq(500), "t.pt")
    with pytest.raises(ConfigError, match="reads more than word embeddings.*data.word_chars"):
        source_encoder(DocumentReader(50, word_chars=8), "chars.pt")
