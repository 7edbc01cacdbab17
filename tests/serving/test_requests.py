"""encdec.serving without a server: the request rules, and the copy gates the page shows."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from encdec.models import BahdanauAttention, Seq2Seq
from encdec.serving import schemas
from encdec.serving.schemas import QARequest, TextRequest


def field_of(body: dict, model=TextRequest) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    cause = info.value.errors()[0].get("ctx", {}).get("error")
    return (
        cause.field
        if isinstance(cause, schemas.FieldError)
        else ".".join(map(str, info.value.errors()[0]["loc"]))
    )


def test_good_requests() -> None:
    assert TextRequest.model_validate({"text": "A dog."}).lines == ["A dog."]
    request = TextRequest.model_validate({"texts": ["a", "b"], "beam_size": 3, "attention": True})
    assert request.lines == ["a", "b"] and request.beam_size == 3
    assert TextRequest.model_validate({"text": "a", "length_penalty": 1}).length_penalty == 1
    assert QARequest.model_validate({"question": "Who?", "context": "Ann."}).question == "Who?"


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"texts": ["a", " "]}, "texts[1]"),
        ({"texts": ["a"] * 33}, "texts"),
        ({"text": "x" * 5001}, "text"),
        ({"text": "a", "beam_size": 17}, "beam_size"),
        ({"text": "a", "beam_size": True}, "beam_size"),
        ({"text": "a", "max_length": 0}, "max_length"),
        ({"text": "a", "length_penalty": 5.5}, "length_penalty"),
        ({"text": "a", "extra": 1}, "extra"),
    ],
)
def test_bad_requests_name_their_field(body: dict, field: str) -> None:
    assert field_of(body) == field


def test_limits_come_from_the_config() -> None:
    before = schemas.LIMITS
    try:
        schemas.configure(schemas.Limits(max_texts=2, max_beam_size=4))
        assert field_of({"texts": ["a", "b", "c"]}) == "texts"
        assert field_of({"text": "a", "beam_size": 5}) == "beam_size"
        assert TextRequest.model_validate({"text": "a", "beam_size": 4}).beam_size == 4
    finally:
        schemas.configure(before)


def test_copy_gates_are_probabilities_per_output_token_batched_as_alone() -> None:
    torch.manual_seed(0)
    net = Seq2Seq(
        20, pad_id=0, embedding_dim=8, hidden_dim=16, attention=BahdanauAttention,
        dropout=0.0, copy=True, unk_id=1,
    ).eval()  # fmt: skip
    src = torch.tensor([[5, 6, 21, 7], [8, 9, 0, 0]])  # 21: a copied word's extended id
    lengths = torch.tensor([4, 2])
    tgt_in = torch.tensor([[2, 5, 21], [2, 9, 8]])
    with torch.no_grad():
        gates = net.copy_gates(src, lengths, tgt_in)
        alone = net.copy_gates(src[1:, :2], lengths[1:], tgt_in[1:])
    assert gates.shape == (2, 3)
    assert bool(((gates > 0) & (gates < 1)).all())
    torch.testing.assert_close(gates[1:], alone)
    plain = Seq2Seq(20, pad_id=0, embedding_dim=8, hidden_dim=16, attention=BahdanauAttention)
    with pytest.raises(ValueError, match="copy"):
        plain.copy_gates(src.clamp(max=19), lengths, tgt_in.clamp(max=19))
