"""The server: LitServe around the model's LitAPI, the web page at /, /model, JSON errors.

Routes: POST /predict (the model; a retrieval model searches the passages it was started with),
POST /encode (semantic vectors of texts, every kind: a second LitAPI, LitServe's multiple-API
support, with a worker of its own), GET /health (LitServe: "ok" once the model is loaded),
GET /model (what is served: task, languages, vocabulary, training summary, recorded metrics,
request limits), GET / (the page; static files under /static, no build step, nothing fetched
from elsewhere). With an API key every route but the page and its files needs the header
`X-API-Key` (`serving.auth`: 401 without it, before the body is read; /docs, /openapi.json too).

Every error is JSON: {"error": "<what is wrong>", "field": "<the request field>"} (field where
one is to blame), status 400 for a body that is not JSON, 422 for a request that is, 413 for a
body over `limits.max_request_bytes`, 401 for a missing or wrong API key.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import litserve as ls
import litserve.server as ls_server
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from encdec import build
from encdec.errors import ConfigError
from encdec.inference.open_qa import SearchSetup
from encdec.inference.predictor import Predictor
from encdec.inference.retrieval import Retriever
from encdec.serving import batching, schemas
from encdec.serving.api import (
    QAAPI,
    EncodeAPI,
    SearchAPI,
    Seq2SeqAPI,
    load_predictor,
    passage_warning,
)
from encdec.serving.auth import KeyMiddleware

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


#: The LitAPI (its request schema) of each task kind.
# the API of each kind that answers a request by itself; a retrieval model serves SearchAPI over
# the collection it is started with
API_OF_KIND: dict[str, type[Seq2SeqAPI] | type[QAAPI]] = {
    "translation": Seq2SeqAPI,
    "summarization": Seq2SeqAPI,
    "qa": QAAPI,
}


def recorded_metrics(path: Path, model_file: bool = False) -> dict[str, Any]:
    """What a train.py run recorded about this model: the best monitored score in the
    checkpoint, and the run folder's metrics.json (test BLEU / ROUGE / EM-F1) beside it. A
    model file records none."""
    found: dict[str, Any] = {}
    if not model_file:
        ckpt = build.read_checkpoint(path)
        for state in (ckpt.get("callbacks") or {}).values():
            if (
                isinstance(state, dict)
                and state.get("monitor")
                and state.get("best_model_score") is not None
            ):
                found[f"best {state['monitor']}"] = round(float(state["best_model_score"]), 4)
        metrics_file = path.parent.parent / "metrics.json"
        if metrics_file.is_file():
            try:
                recorded = json.loads(metrics_file.read_text())
            except (OSError, ValueError):
                recorded = {}
            for key, value in recorded.items() if isinstance(recorded, dict) else ():
                evaluated = str(key).startswith(("test/", "val/"))
                if evaluated and isinstance(value, int | float) and not isinstance(value, bool):
                    found[key] = round(float(value), 4)
    return found


def model_info(
    path: Path, predictor: Predictor, limits: schemas.Limits, model_file: bool = False
) -> dict[str, Any]:
    """GET /model: `task` is the kind recorded in the file ("translation", "summarization",
    "qa"), the page's choice of form."""
    task: Any = predictor.task  # type: ignore[attr-defined]
    config = predictor.config
    data, model = config.get("data", {}), config.get("model", {})
    net = predictor.encoding.net
    info: dict[str, Any] = {
        "task": predictor.kind,
        "model_file": path.name,
        "vocab_size": task.tokenizer.get_vocab_size(),
        "parameters": sum(p.numel() for p in task.parameters()),
        "training": {
            "model": str(model.get("_target_", "")).rsplit(".", 1)[-1],
            **{
                k: model[k]
                for k in (
                    "rnn_type",
                    "attention",
                    "embedding_dim",
                    "hidden_dim",
                    "encoder_layers",
                    "decoder_layers",
                    "num_layers",
                    "num_heads",
                    "copy",
                    "coverage",
                )
                if k in model and not isinstance(model[k], dict | list)
            },
            "data": str(data.get("_target_", "")).rsplit(".", 1)[-1],
            "tokenizer": data.get("tokenizer_type"),
            "max_epochs": config.get("trainer", {}).get("max_epochs"),
            "seed": config.get("seed"),
        },
        "metrics": recorded_metrics(path, model_file),
        "limits": asdict(limits),
        "encoding": {  # what POST /encode offers (docs/encoder.md#semantic-vectors)
            "poolings": list(net.poolings),
            "default_pooling": net.default_pooling,
            "sides": list(net.text_sides),
        },
    }
    info.update(predictor.describe())
    return info


def _field(error: dict[str, Any]) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, schemas.FieldError):
        return cause.field
    loc = [str(p) for p in error.get("loc", ()) if p != "body"]
    return ".".join(loc) or "body"


def _message(error: dict[str, Any], field: str) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, schemas.FieldError):
        return str(cause)
    return f"{field}: {error.get('msg', 'invalid')}"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            {"error": "the request body is not valid JSON", "field": "body"}, status_code=400
        )
    if any(e.get("type") == "model_attributes_type" and _field(e) == "body" for e in errors):
        return JSONResponse(
            {"error": "the request body must be a JSON object", "field": "body"}, status_code=422
        )
    first = errors[0] if errors else {}
    field = _field(first)
    listed = [{"field": _field(e), "error": _message(e, _field(e))} for e in errors]
    return JSONResponse(
        {"error": _message(first, field), "field": field, "errors": listed}, status_code=422
    )


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)


def build_server(
    model_path: str | Path,
    model_file: bool = False,
    max_batch_size: int = 32,
    batch_timeout: float = 0.01,
    api_key: str | None = None,
    limits: schemas.Limits | None = None,
    accelerator: str = "auto",
    timeout: float = 60,
    search: SearchSetup | None = None,
) -> ls.LitServer:
    """The LitServer for a train.py checkpoint or (`model_file`) an exported model file (a
    retrieval model with what it `search`es); `run(host=..., port=...)` serves it."""
    path = Path(model_path)
    limits = limits or schemas.Limits()
    schemas.configure(limits)
    # here for /model and to pick the API; each worker loads its own
    predictor = load_predictor(path, model_file)
    info = model_info(path, predictor, limits, model_file)
    if predictor.kind == "retrieval":
        if search is None:
            raise ConfigError(
                f"{path} is a retrieval model: it searches a collection. Give passages=<file> "
                f"(one passage a line, or .jsonl), indexed first with python index.py "
                f"retriever={path} passages=<file>."
            )
        assert isinstance(predictor, Retriever)
        system, collection = search.open(predictor, passage_warning)  # a bad setup: one line now
        info["search"] = {
            "passages": len(collection.texts),
            "k": system.k,
            "hybrid": search.hybrid,
            "reader": search.reader is not None,
        }
        del system, collection
    elif search is not None:
        raise ConfigError(
            f"passages= is for retrieval models; {path} is a {predictor.kind} model. Leave "
            f"passages, index, hybrid and reader out."
        )
    del predictor
    # LitServe reads LIT_SERVER_API_KEY from the environment at import; the config's key (which
    # defaults to it) takes its place (before the routes are made, when LitServe consults it).
    ls_server.LIT_SERVER_API_KEY = api_key
    api: ls.LitAPI
    if search is not None:
        api = SearchAPI(
            str(path),
            search,
            model_file,
            max_batch_size=max_batch_size,
            batch_timeout=batch_timeout,
        )
    else:
        api = API_OF_KIND[info["task"]](
            str(path), model_file, max_batch_size=max_batch_size, batch_timeout=batch_timeout
        )
    api.loop = batching.loop_for(max_batch_size)  # waits for requests instead of polling
    encoder = EncodeAPI(
        str(path), model_file, max_batch_size=max_batch_size, batch_timeout=batch_timeout
    )
    encoder.loop = batching.loop_for(max_batch_size)
    server = ls.LitServer(
        [api, encoder],
        accelerator=accelerator,
        timeout=timeout,
        max_payload_size=limits.max_request_bytes,
        model_metadata={"task": info["task"], "model_file": info["model_file"]},
    )
    app = server.app
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/"]
    auth = [Depends(server.setup_auth())]

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/model", dependencies=auth)
    async def model() -> JSONResponse:
        return JSONResponse(info)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    if api_key:  # outermost: checked before anything reads the request
        app.add_middleware(KeyMiddleware, key=api_key)
    return server
