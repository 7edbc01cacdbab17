"""The API key without a model: its text from the command line, and the middleware checking it
before anything reads the request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from encdec.cli.common import ROOT
from encdec.errors import ConfigError
from encdec.serving import auth


@pytest.mark.parametrize(
    "value,overrides,key",
    [
        (None, [], None),
        ("", [], None),
        ("s3cret", ["api_key=s3cret"], "s3cret"),
        (12345, ["port=8001", "api_key=12345"], "12345"),  # Hydra's integer: the typed text
        (1000, ["api_key=1_000"], "1_000"),
        (100000.0, ["++api_key=1e5"], "1e5"),
        (True, ["+api_key=true"], "true"),
        ("0012", ["api_key=0012"], "0012"),
    ],
)
def test_the_key_is_the_text_typed(value, overrides, key) -> None:
    assert auth.key_from(value, overrides) == key


@pytest.mark.parametrize(
    "value,overrides",
    [
        (12345, []),  # a number from a config file: no text to recover
        ([1, 2], ["api_key=[1,2]"]),
        ({"a": 1}, ["api_key={a:1}"]),
        (" key", ["api_key=' key'"]),
        ("clé", ["api_key=clé"]),
        ("a\tb", []),
    ],
)
def test_other_keys_are_refused_in_one_line(value, overrides) -> None:
    with pytest.raises(ConfigError, match="api_key") as info:
        auth.key_from(value, overrides)
    assert "\n" not in str(info.value)


class Body(BaseModel):
    text: str


@pytest.fixture()
def client() -> TestClient:
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: Body) -> dict:
        return {"echo": body.text}

    @app.get("/")
    async def page() -> str:
        return "page"

    @app.get("/static/app.js")
    async def script() -> str:
        return "js"

    app.add_middleware(auth.KeyMiddleware, key="12345")
    return TestClient(app)


def test_no_key_is_401_before_the_body_is_parsed(client: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "1234"}):
        response = client.post("/predict", content=b"{not json", headers=headers)
        assert response.status_code == 401 and "error" in response.json()
    good = {"X-API-Key": "12345"}
    assert client.post("/predict", content=b"{not json", headers=good).status_code == 422
    assert client.post("/predict", json={"text": "a"}, headers=good).json() == {"echo": "a"}


def test_docs_need_the_key_the_page_does_not(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/nowhere"):
        assert client.get(path).status_code == 401, path
    assert client.get("/docs", headers={"X-API-Key": "12345"}).status_code == 200
    assert client.get("/openapi.json", headers={"x-api-key": "12345"}).json()["paths"]
    assert client.get("/").json() == "page"
    assert client.get("/static/app.js").json() == "js"


def test_serve_py_refuses_a_list_key_in_one_line(tmp_path) -> None:
    model = ROOT / "tests" / "fixtures" / "legacy" / "translation_lstm_bahdanau.pt"
    result = subprocess.run(
        [sys.executable, "serve.py", f"model_file={model}", "api_key=[1,2]"],
        cwd=ROOT,
        env={**os.environ, "ENCDEC_DATA_DIR": str(tmp_path), "LIT_SERVER_API_KEY": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "api_key=[1, 2] is not text" in lines[0], result.stderr
