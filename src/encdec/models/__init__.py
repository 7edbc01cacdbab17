"""Plain PyTorch modules: no Lightning, no Hydra."""

from encdec.models.attention import Attention, BahdanauAttention, LuongAttention
from encdec.models.char_encoder import CharCNNEncoder
from encdec.models.decoder import Decoder, DecoderState, Memory
from encdec.models.encoder import Encoder, EncoderOutput
from encdec.models.protocols import Seq2SeqNetwork
from encdec.models.reader import DocumentReader
from encdec.models.retriever import DualEncoder
from encdec.models.seq2seq import Seq2Seq
from encdec.models.transformer import TransformerSeq2Seq

__all__ = [
    "Attention",
    "BahdanauAttention",
    "LuongAttention",
    "CharCNNEncoder",
    "Decoder",
    "DocumentReader",
    "DualEncoder",
    "DecoderState",
    "Memory",
    "Encoder",
    "EncoderOutput",
    "Seq2Seq",
    "Seq2SeqNetwork",
    "TransformerSeq2Seq",
]
