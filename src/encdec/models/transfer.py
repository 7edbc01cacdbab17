"""An encoder carried from one network into another (fine-tuning on a new task).

The source's encoder is its first `Encoder` that reads token embeddings only (a Seq2Seq's
`encoder`, a DocumentReader's `question_encoder`, a DualEncoder's question side). It is copied
into every `Encoder` of the target: the word embedding (when the vocabularies are the same) and
every RNN weight. A target encoder whose first layer also reads extra per-token inputs (the QA
reader's passage encoder: exact-match flags and the question-aligned embedding) takes the
source's first-layer input weights for the embedding columns; the extra columns keep their
initial values, as nothing was learnt for them.

Plain PyTorch: `encdec.build` loads the source (with its trust rules) and calls `carry_encoder`.
"""

from __future__ import annotations

import torch
from torch import nn

from encdec.errors import ConfigError
from encdec.models.encoder import Encoder
from encdec.models.seq2seq import Seq2Seq


def encoders(net: nn.Module) -> list[tuple[str, Encoder]]:
    """The network's `Encoder`s (name, module), each once, in module order."""
    return [(name, m) for name, m in net.named_modules() if isinstance(m, Encoder)]


def _extra_inputs(encoder: Encoder) -> int:
    """How many per-token inputs the encoder's RNN reads besides the embedding."""
    return encoder.rnn.input_size - encoder.embedding.embedding_dim


def source_encoder(net: nn.Module, source: str) -> Encoder:
    """The encoder to carry: the source network's first that reads embeddings only."""
    for _, encoder in encoders(net):
        if _extra_inputs(encoder) == 0:
            return encoder
    if encoders(net):
        raise ConfigError(
            f"init.encoder_from={source}: every RNN encoder of its network "
            f"({type(net).__name__}) reads more than word embeddings (a QA reader with a "
            f"character encoder, data.word_chars > 0), so none fits another network."
        )
    raise ConfigError(
        f"init.encoder_from={source}: its network ({type(net).__name__}) has no RNN encoder to "
        f"carry (only RNN encoders carry: a seq2seq, QA reader or retriever model file)."
    )


def matching_options(target: nn.Module, source: Encoder) -> str:
    """The command-line options that build `target`'s encoders in the source's shape."""
    layers = "model.encoder_layers" if isinstance(target, Seq2Seq) else "model.num_layers"
    hidden = "model.encoder_hidden_dim" if isinstance(target, Seq2Seq) else "model.hidden_dim"
    bidirectional = str(source.num_directions == 2).lower()
    return (
        f"model.embedding_dim={source.embedding.embedding_dim} {hidden}={source.hidden_dim} "
        f"{layers}={source.num_layers} model.bidirectional={bidirectional} "
        f"rnn={source.rnn_type}"
    )


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")"


def _fit(src: torch.Tensor | None, tgt: torch.Tensor | None, columns: bool) -> bool:
    """Whether the source weight `src` fits `tgt` (all of it, or its first columns)."""
    if src is None or tgt is None:
        return False
    if columns:  # a first layer's input weights: (G*H, E) into (G*H, E + extra inputs)
        return src.shape[0] == tgt.shape[0] and src.shape[1] <= tgt.shape[1]
    return src.shape == tgt.shape


def carry_encoder(
    source: Encoder, target: nn.Module, origin: str, embedding: bool = True
) -> list[str]:
    """Copy `source` into every Encoder of `target` (the embedding too, with `embedding`); the
    names of the target's parameters that now hold carried weights (whole tensors).

    Anything that does not fit raises one ConfigError line naming the parameter, both shapes and
    the options that fix it; nothing is copied then.
    """
    targets = encoders(target)
    if not targets:
        raise ConfigError(
            f"init.encoder_from={origin}: model={type(target).__name__} has no RNN encoder to "
            f"start from it (the Transformer's encoder is its own: use an RNN model)."
        )
    fix = matching_options(target, source)
    src_rnn = dict(source.rnn.named_parameters())
    pairs: list[tuple[torch.Tensor, torch.Tensor, bool]] = []  # (source, target, by columns)
    for prefix, encoder in targets:
        where = f"{type(target).__name__}.{prefix}"
        if encoder.rnn_type != source.rnn_type:
            raise ConfigError(
                f"init.encoder_from={origin}: the source encoder is rnn={source.rnn_type} and "
                f"{where} rnn={encoder.rnn_type}; build it as the source's: {fix}."
            )
        dims = (source.embedding.embedding_dim, encoder.embedding.embedding_dim)
        if dims[0] != dims[1]:  # the first layer's input columns must mean the same
            raise ConfigError(
                f"init.encoder_from={origin}: {prefix}.embedding has dimension {dims[1]} here "
                f"and {dims[0]} in the source; build the encoder as the source's: {fix}."
            )
        tgt_rnn = dict(encoder.rnn.named_parameters())
        for name in dict.fromkeys([*src_rnn, *tgt_rnn]):
            src, tgt = src_rnn.get(name), tgt_rnn.get(name)
            columns = name.startswith("weight_ih_l0")
            if not _fit(src, tgt, columns):
                shown = [("absent" if t is None else _shape(t)) for t in (src, tgt)]
                raise ConfigError(
                    f"init.encoder_from={origin}: {prefix}.rnn.{name} is {shown[0]} in the "
                    f"source and {shown[1]} here; build the encoder as the source's: {fix}."
                )
            assert src is not None and tgt is not None  # _fit checked both
            pairs.append((src, tgt, columns and src.shape[1] < tgt.shape[1]))
        if embedding:
            src_emb, tgt_emb = source.embedding.weight, encoder.embedding.weight
            if src_emb.shape != tgt_emb.shape:
                raise ConfigError(
                    f"init.encoder_from={origin}: {prefix}.embedding.weight (vocabulary x "
                    f"dimension) is {_shape(src_emb)} in the source and {_shape(tgt_emb)} here; "
                    f"keep init.tokenizer=source (the run then uses the source's vocabulary) "
                    f"and {fix}."
                )
            pairs.append((src_emb, tgt_emb, False))
    with torch.no_grad():
        for weight, into, partial in pairs:
            if partial:
                into[:, : weight.shape[1]].copy_(weight)
            else:
                into.copy_(weight)
    carried = {id(into) for _, into, _ in pairs}
    return [name for name, p in target.named_parameters() if id(p) in carried]
