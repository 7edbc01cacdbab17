"""The model behind /predict, as LitServe `LitAPI`s: one for translation / summarization, one for
extractive QA; and behind /encode, `EncodeAPI` (semantic vectors, every kind: LitServe 0.2's
multiple LitAPIs, one per route, each with its own worker loading the model).

Each inference worker loads the model itself (`setup`) through the safe loading path
(`encdec.build`: nothing in a file runs code). Requests arrive already checked (`schemas`), so
`predict` only decodes: LitServe's dynamic batching hands it the requests that arrived within
`batch_timeout` (at most `max_batch_size`), and the texts of those asking for the same decoding
options are decoded together by the batched beam search, in batches of similar length, exactly
as `predict.py` decodes a file. The trained task is never changed: each option set is a copy of
its `DecodingSettings`.
"""

# No `from __future__ import annotations`: LitServe gives FastAPI decode_request's request
# annotation as the route's body type, which must be the class itself, not its name.
import logging
from pathlib import Path
from typing import Any

import litserve as ls
import torch
from fastapi.responses import JSONResponse

from encdec.data.copy_vocab import piece
from encdec.errors import ConfigError
from encdec.inference.answering import answer_each, length_warnings
from encdec.inference.open_qa import SearchSetup
from encdec.inference.predictor import Predictor, load
from encdec.inference.retrieval import Retriever
from encdec.inference.translator import Decoded, decode_lines, decoding_settings
from encdec.serving.schemas import EncodeRequest, QARequest, SearchRequest, TextRequest

log = logging.getLogger(__name__)


def passage_warning(number: int, message: str) -> None:
    """A line of the passages file that is left out, in the server's log."""
    log.warning("passages, line %d: %s", number, message)


def load_predictor(path: str | Path, model_file: bool = False) -> Predictor:
    """A train.py checkpoint, or (`model_file`) an exported model file -> its Predictor."""
    return load(path, checkpoint=not model_file)


def failed(field: str, problem: str) -> dict[str, Any]:
    """The answer to a request the model could not use (the tokenizer failed on it): 422."""
    return {"error": f"{field}: {problem}", "field": field, "status": 422}


class _ModelAPI(ls.LitAPI):
    """What both APIs share: the model file, loading it in the worker, list batching."""

    def __init__(
        self,
        model_path: str,
        model_file: bool = False,
        max_batch_size: int = 32,
        batch_timeout: float = 0.01,
        api_path: str = "/predict",
    ):
        super().__init__(
            max_batch_size=max_batch_size, batch_timeout=batch_timeout, api_path=api_path
        )
        self.model_path, self.model_file = str(model_path), model_file
        self.decode_batch_size = max(max_batch_size, 1) * 4

    def setup(self, device: str) -> None:
        self.predictor = load_predictor(self.model_path, self.model_file).to(device)
        self.task: Any = self.predictor.task  # type: ignore[attr-defined]

    def batch(self, inputs: list[Any]) -> list[Any]:
        return list(inputs)

    def unbatch(self, output: list[Any]) -> list[Any]:
        return list(output)

    def encode_response(self, output: dict[str, Any]) -> Any:
        if "status" in output:  # this request alone failed; the others of its batch did not
            status = output.pop("status")
            return JSONResponse(output, status_code=status)
        return output

    def answer(self, requests: list[Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, x: Any) -> Any:
        # Batching on (max_batch_size > 1): a list of requests; off: one request.
        if isinstance(x, list):
            return self.answer(x)
        return self.answer([x])[0]


class Seq2SeqAPI(_ModelAPI):
    """Translation / summarization: {"text"} or {"texts"}, options -> {"outputs": [...]}."""

    def decode_request(self, request: TextRequest) -> TextRequest:
        return request

    def answer(self, requests: list[TextRequest]) -> list[dict[str, Any]]:
        task = self.task
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            key = (r.beam_size, r.length_penalty, r.max_length, r.attention)
            groups.setdefault(key, []).append(i)
        results: list[dict[str, Any]] = [{} for _ in requests]
        for (beam_size, length_penalty, max_length, attention), members in groups.items():
            settings = decoding_settings(task, beam_size, max_length).replace(
                length_penalty=length_penalty
            )
            lines = [line for i in members for line in requests[i].lines]
            owner = [(i, j) for i in members for j in range(len(requests[i].lines))]
            warnings: dict[int, list[str]] = {}

            def warn(index: int, message: str, owner: list = owner, found: dict = warnings) -> None:
                i, j = owner[index]
                found.setdefault(i, []).append(f"text {j}: {message}")

            decoded = decode_lines(
                task, lines, self.decode_batch_size, settings, warn, return_attention=attention
            )
            per_request: dict[int, list[Decoded]] = {i: [] for i in members}
            for d, (k, _) in zip(decoded, owner, strict=True):  # one pass, not one per request
                per_request[k].append(d)
            for i, mine in per_request.items():
                bad = next((j for j, d in enumerate(mine) if d.problem is not None), None)
                if bad is not None:
                    field = "text" if requests[i].text is not None else f"texts[{bad}]"
                    results[i] = failed(field, str(mine[bad].problem))
                    continue
                result: dict[str, Any] = {"outputs": [d.text for d in mine]}
                if attention:
                    result["attention"] = [self.explain(d) for d in mine]
                if warnings.get(i):
                    result["warnings"] = warnings[i]
                results[i] = result
        return results

    def explain(self, d: Decoded) -> dict[str, Any]:
        """Source and output token pieces, attention (output x source) and, for a
        pointer-generator, each output token's copy probability (1 - p_gen)."""
        tok = self.task.tokenizer
        found: dict[str, Any] = {
            "source": [piece(tok, t, d.oov) for t in d.source_ids],
            "output": [piece(tok, t, d.oov) for t in d.output_ids],
            "weights": None
            if d.attention is None
            else [[round(w, 4) for w in row] for row in d.attention.tolist()],
        }
        net = self.task.net
        if self.task.copies and hasattr(net, "copy_gates") and d.source_ids:
            found["copy"] = self.copy_probabilities(d)
        return found

    def copy_probabilities(self, d: Decoded) -> list[float]:
        """A teacher-forced pass of the decoded output through the net, reading its gate."""
        task = self.task
        src_ext = torch.tensor([d.source_ids], device=task.device)
        tgt_in = torch.tensor([[task.ids["bos"], *d.output_ids]], device=task.device)
        lengths = torch.tensor([len(d.source_ids)], device=task.device)
        p_gen = task.net.copy_gates(src_ext, lengths, tgt_in)[0, : len(d.output_ids)]
        return [round(1.0 - float(p), 4) for p in p_gen]


class QAAPI(_ModelAPI):
    """Extractive QA: {"question", "context"} -> answer text, character offsets, score."""

    def decode_request(self, request: QARequest) -> QARequest:
        return request

    def answer(self, requests: list[QARequest]) -> list[dict[str, Any]]:
        task = self.task
        items = [{"context": r.context, "question": r.question} for r in requests]
        results = []
        for r, spans in zip(requests, answer_each(task, items), strict=True):
            if isinstance(spans, str):
                results.append(failed("context", spans))
                continue
            span = spans[0]
            result: dict[str, Any] = {
                "answer": span.text,
                "start": span.start,
                "end": span.end,
                "score": round(span.score, 6),
            }
            warnings = length_warnings(task, r.context, r.question)
            if warnings:
                result["warnings"] = warnings
            results.append(result)
        return results


class EncodeAPI(_ModelAPI):
    """Semantic vectors: {"texts", "pooling", "side"} -> {"vectors", "dim", "pooling", "side"}
    (`encdec.inference.encoding`: the requests of a batch asking for the same pooling and side
    are encoded together, in batches of similar length; each text's vector is its own)."""

    def __init__(
        self,
        model_path: str,
        model_file: bool = False,
        max_batch_size: int = 32,
        batch_timeout: float = 0.01,
    ):
        super().__init__(model_path, model_file, max_batch_size, batch_timeout, "/encode")

    def decode_request(self, request: EncodeRequest) -> EncodeRequest:
        return request

    def answer(self, requests: list[EncodeRequest]) -> list[dict[str, Any]]:
        encoding = self.predictor.encoding
        results: list[dict[str, Any]] = [{} for _ in requests]
        groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(requests):
            try:
                pooling, _ = encoding.choose(r.pooling, None)
            except ConfigError as err:
                results[i] = failed("pooling", str(err))
                continue
            try:
                key = encoding.choose(r.pooling, r.side)
            except ConfigError as err:
                results[i] = failed("side", str(err))
                continue
            groups.setdefault(key, []).append(i)
        for (pooling, side), members in groups.items():
            texts = [t for i in members for t in requests[i].texts]
            owner = [(i, j) for i in members for j in range(len(requests[i].texts))]
            notes: dict[int, list[str]] = {}

            def note(index: int, message: str, owner: list = owner, found: dict = notes) -> None:
                i, j = owner[index]
                found.setdefault(i, []).append(f"texts[{j}]: {message}")

            tokens = encoding.tokenize(texts, note)
            vectors = encoding.vectors(tokens, pooling, side, self.decode_batch_size)
            rows: dict[int, list[list[float]]] = {i: [] for i in members}
            lost: dict[int, int] = {}
            for k, (i, j) in enumerate(owner):
                if not tokens[k]:  # a text is never blank here: the tokenizer failed on it
                    lost.setdefault(i, j)
                rows[i].append(vectors[k].tolist())
            for i in members:
                if i in lost:
                    j = lost[i]
                    problem = next(m for m in notes[i] if m.startswith(f"texts[{j}]: "))
                    results[i] = failed(f"texts[{j}]", problem.split(": ", 1)[1])
                    continue
                result: dict[str, Any] = {
                    "vectors": rows[i],
                    "dim": int(vectors.shape[1]),
                    "pooling": pooling,
                    "side": side,
                }
                if notes.get(i):
                    result["warnings"] = notes[i]
                results[i] = result
        return results


class SearchAPI(_ModelAPI):
    """A retrieval model: {"question", "k"} -> the k best passages of the collection it was
    started with and, with a reader, the answer among them (`Asked.record`, as ask.py)."""

    def __init__(
        self,
        model_path: str,
        setup: SearchSetup,
        model_file: bool = False,
        max_batch_size: int = 32,
        batch_timeout: float = 0.01,
    ):
        super().__init__(model_path, model_file, max_batch_size, batch_timeout)
        self.search_setup = setup

    def setup(self, device: str) -> None:
        super().setup(device)
        assert isinstance(self.predictor, Retriever)
        self.system, self.collection = self.search_setup.open(self.predictor, passage_warning)

    def decode_request(self, request: SearchRequest) -> SearchRequest:
        return request

    def answer(self, requests: list[SearchRequest]) -> list[dict[str, Any]]:
        groups: dict[int | None, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.k, []).append(i)
        results: list[dict[str, Any]] = [{} for _ in requests]
        for k, members in groups.items():
            asked = self.system.ask([requests[i].question for i in members], k)
            for i, found in zip(members, asked, strict=True):
                results[i] = found.record(self.collection)
        return results
