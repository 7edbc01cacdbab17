"""`serve.py` as a user runs it: a real server on a free 127.0.0.1 port, real HTTP requests.

Tiny real checkpoints (a translation LSTM, a QA reader) are trained once per module and each is
served once per module (the QA server with an API key). Answers must equal predict.py's for the
same inputs; requests batched together must equal one-by-one decoding; every class of bad request
gets a 4xx with a JSON error naming the field, and the next good request is answered. The
browser test drives headless Chromium (Debian's chromium + chromium-driver, Selenium) through the
page, writing a screenshot per case; it is skipped, saying why, where those are not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from encdec.cli.common import ROOT
from tests.integration.test_predict_input import lines_of, run_bytes, train
from tests.support.helpers import QA_SMALL, SMALL

# make test-slow (and CI): servers, trained models and a browser (~3 minutes).
pytestmark = pytest.mark.slow

OPTIONS = {"beam_size": 2, "max_length": 12}
PREDICT_OPTIONS = ["beam_size=2", "max_length=12"]
SENTENCES = [
    "A man is riding a bike.",
    "Two dogs play in the snow.",
    "A girl in a red dress is eating an apple on a bench near the river.",
    "People.",
    "A group of children are playing football in a park while their parents watch.",
    "The woman sings.",
]
QUESTIONS = [
    {"question": "Who won the game?", "context": "The Broncos won the game 24-10 in Denver."},
    {"question": "Where is the tower?", "context": "The Eiffel Tower is in Paris, France."},
    {"question": "When did it open?", "context": "The bridge opened in 1937 after four years."},
]
KEY = "test-key-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(
    url: str,
    body: bytes | dict | None = None,
    key: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict | str]:
    """(status, JSON body or text) of a GET (no body) or POST to the local server."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    req.add_header("Content-Type", content_type)
    if key is not None:
        req.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    """`python serve.py ...` on a free port, in its own process group (LitServe starts more)."""

    def __init__(self, args: list[str], data_dir: Path, log_dir: Path, key: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = key
        env = {**os.environ, "ENCDEC_DATA_DIR": str(data_dir), "WANDB_MODE": "disabled"}
        env.pop("LIT_SERVER_API_KEY", None)
        if key is not None:
            env["LIT_SERVER_API_KEY"] = key  # LitServe's own variable: off the command line
        self.log = (log_dir / f"serve-{self.port}.log").open("wb")
        command = [sys.executable, "serve.py", *args, f"port={self.port}"]
        command += [f"paths.log_dir={log_dir}"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = Path(self.log.name)

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve.py exited: {self.log_path.read_text()[-3000:]}")
            try:
                status, body = request(f"{self.url}/health", key=self.key)
                if status == 200 and body == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(
            f"serve.py not ready in {timeout} s: {self.log_path.read_text()[-3000:]}"
        )

    def post(self, body: bytes | dict, key: str | None = None) -> tuple[int, dict | str]:
        return request(f"{self.url}/predict", body, key=key if key is not None else self.key)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def lstm(data_dir: Path, log_dir: Path) -> Path:
    return train(["task=translation", *SMALL], data_dir, log_dir, "lstm")


@pytest.fixture(scope="module")
def reader(data_dir: Path, log_dir: Path) -> Path:
    return train(QA_SMALL, data_dir, log_dir, "reader")


@pytest.fixture(scope="module")
def mt_server(lstm: Path, data_dir: Path, log_dir: Path) -> Iterator[Server]:
    # A long batch window, so requests sent together are decoded together.
    args = [f"ckpt_path={lstm}", "max_batch_size=8", "batch_timeout=0.5", "limits.max_texts=8"]
    server = Server(
        args + ["limits.max_chars=300", "limits.max_request_bytes=20000"], data_dir, log_dir
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def qa_server(reader: Path, data_dir: Path, log_dir: Path) -> Iterator[Server]:
    server = Server([f"ckpt_path={reader}", "max_batch_size=4"], data_dir, log_dir, key=KEY)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def predict_lines(ckpt: Path, lines: list[str], args: list[str], data_dir, log_dir, tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("".join(f"{line}\n" for line in lines))
    result = run_bytes(
        ["predict.py", f"ckpt_path={ckpt}", f"input={source}", *args], data_dir, log_dir
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return lines_of(result.stdout)


# -- answers ---------------------------------------------------------------------------------------


def test_translations_equal_predict(mt_server, lstm, data_dir, log_dir, tmp_path) -> None:
    offline = predict_lines(lstm, SENTENCES, PREDICT_OPTIONS, data_dir, log_dir, tmp_path)
    status, body = mt_server.post({"texts": SENTENCES, **OPTIONS})
    assert status == 200, body
    assert body["outputs"] == offline
    assert all(offline)
    # One by one: each alone in its request, and each alone in predict.py (batch_size=1).
    alone = predict_lines(
        lstm, SENTENCES, [*PREDICT_OPTIONS, "batch_size=1"], data_dir, log_dir, tmp_path
    )
    assert alone == offline
    for sentence, expected in zip(SENTENCES, alone, strict=True):
        status, body = mt_server.post({"text": sentence, **OPTIONS})
        assert (status, body["outputs"]) == (200, [expected])


def test_concurrent_requests_are_batched_and_equal_one_by_one(
    mt_server, lstm, data_dir, log_dir, tmp_path
) -> None:
    alone = predict_lines(
        lstm, SENTENCES, [*PREDICT_OPTIONS, "batch_size=1"], data_dir, log_dir, tmp_path
    )
    # Mixed options in one batch: each request is decoded with its own.
    requests = [{"text": s, **OPTIONS} for s in SENTENCES] + [
        {"text": SENTENCES[0], "beam_size": 1, "max_length": 12}
    ]
    with ThreadPoolExecutor(len(requests)) as pool:
        started = time.monotonic()
        answers = list(pool.map(mt_server.post, requests))
        elapsed = time.monotonic() - started
    assert [a[0] for a in answers] == [200] * len(requests), answers
    assert [a[1]["outputs"][0] for a in answers[:-1]] == alone
    greedy = predict_lines(
        lstm, SENTENCES[:1], ["beam_size=1", "max_length=12"], data_dir, log_dir, tmp_path
    )
    assert answers[-1][1]["outputs"] == greedy
    # 7 requests in well under 7 batch windows: they were decoded together.
    assert elapsed < 7 * 0.5, elapsed


def test_attention_rows_and_columns(mt_server) -> None:
    status, body = mt_server.post({"texts": SENTENCES[:2], "attention": True, **OPTIONS})
    assert status == 200, body
    plain = mt_server.post({"texts": SENTENCES[:2], **OPTIONS})[1]
    assert body["outputs"] == plain["outputs"]  # attention does not change the outputs
    for explained in body["attention"]:
        rows, columns = len(explained["output"]), len(explained["source"])
        assert rows > 0 and columns > 0
        assert len(explained["weights"]) == rows
        assert all(len(row) == columns for row in explained["weights"])
        assert all(abs(sum(row) - 1) < 1e-2 for row in explained["weights"])
        assert "copy" not in explained  # no pointer-generator here


def test_qa_answers_equal_predict(qa_server, reader, data_dir, log_dir, tmp_path) -> None:
    source = tmp_path / "questions.jsonl"
    source.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    result = run_bytes(["predict.py", f"ckpt_path={reader}", f"input={source}"], data_dir, log_dir)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    offline = [json.loads(line)["answer"] for line in lines_of(result.stdout)]
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        answers = list(pool.map(qa_server.post, QUESTIONS))
    for answer, question, expected in zip(answers, QUESTIONS, offline, strict=True):
        status, body = answer
        assert status == 200, body
        assert body["answer"] == expected
        assert question["context"][body["start"] : body["end"]] == body["answer"]
        assert 0 < body["score"] <= 1


def test_model_health_and_page(mt_server, qa_server) -> None:
    status, info = request(f"{mt_server.url}/model")
    assert status == 200
    assert info["task"] == "translation" and info["languages"] == {"source": "en", "target": "de"}
    assert info["vocab_size"] == 500 and info["training"]["rnn_type"] == "lstm"
    assert "test/bleu" in info["metrics"]
    status, info = request(f"{qa_server.url}/model", key=KEY)
    assert (status, info["task"]) == (200, "qa")
    assert {"test/em", "test/f1"} <= set(info["metrics"])
    status, page = request(f"{mt_server.url}/")
    assert status == 200 and "<html" in page and "/static/app.js" in page
    assert request(f"{mt_server.url}/static/app.js")[0] == 200


# -- what must be refused --------------------------------------------------------------------------

BAD = [
    # (name, body, status, field)
    ("invalid JSON", b'{"text": "A man', 400, "body"),
    ("not an object", b'["A man."]', 422, "body"),
    ("missing text", {"beam_size": 2}, 422, "text"),
    ("text and texts", {"text": "a", "texts": ["b"]}, 422, "text"),
    ("wrong type", {"text": 5}, 422, "text"),
    ("wrong list item", {"texts": ["a", 7]}, 422, "texts.1"),
    ("unknown field", {"text": "a", "temperature": 2}, 422, "temperature"),
    ("empty text", {"text": "  "}, 422, "text"),
    ("empty item", {"texts": ["A dog.", ""]}, 422, "texts[1]"),
    ("invisible text", {"text": "\u200b\u200b"}, 422, "text"),
    ("lone surrogate", b'{"text": "a \\ud800 b"}', 422, "text"),
    ("over-long text", {"text": "word " * 100}, 422, "text"),
    ("too many texts", {"texts": ["A dog."] * 9}, 422, "texts"),
    ("no texts", {"texts": []}, 422, "texts"),
    ("beam size too big", {"text": "a", "beam_size": 17}, 422, "beam_size"),
    ("beam size zero", {"text": "a", "beam_size": 0}, 422, "beam_size"),
    ("beam size not whole", {"text": "a", "beam_size": 2.5}, 422, "beam_size"),
    ("beam size as text", {"text": "a", "beam_size": "4"}, 422, "beam_size"),
    ("max length too big", {"text": "a", "max_length": 100000}, 422, "max_length"),
    ("negative length penalty", {"text": "a", "length_penalty": -1}, 422, "length_penalty"),
    ("attention not boolean", {"text": "a", "attention": "yes"}, 422, "attention"),
    ("body too large", json.dumps({"text": "a" * 30000}).encode(), 413, None),
]


@pytest.mark.parametrize("name,body,status,field", BAD, ids=[b[0] for b in BAD])
def test_bad_request_then_a_good_one(mt_server, name, body, status, field) -> None:
    got, error = mt_server.post(body)
    assert got == status, (name, error)
    assert isinstance(error, dict) and error.get("error"), error
    if field is not None:
        assert error["field"] == field, error
    good, answer = mt_server.post({"text": SENTENCES[0], **OPTIONS})
    assert good == 200 and answer["outputs"][0], answer


def test_qa_bad_requests(qa_server) -> None:
    for body, field in [
        ({"question": "Who?"}, "context"),
        ({"question": "", "context": "The Broncos won."}, "question"),
        ({"question": "Who?", "context": ["The Broncos won."]}, "context"),
        ({"text": "Who?"}, "question"),
    ]:
        status, error = qa_server.post(body)
        assert status == 422 and error["field"] == field, (body, error)
    status, body = qa_server.post(QUESTIONS[0])
    assert status == 200 and body["answer"]


def test_api_key(qa_server) -> None:
    for key in ("", "wrong"):
        for path in ("/predict", "/model", "/health"):
            body = QUESTIONS[0] if path == "/predict" else None
            status, error = request(f"{qa_server.url}{path}", body, key=key or None)
            assert status == 401, (path, key, error)
            assert "error" in error
    assert qa_server.post(QUESTIONS[0])[0] == 200
    assert request(f"{qa_server.url}/")[0] == 200  # the page itself is public; it asks for the key


def test_binds_to_localhost_only(mt_server) -> None:
    result = (
        subprocess.run(["ss", "-ltnH"], capture_output=True, text=True)
        if shutil.which("ss")
        else None
    )
    if result is None:
        pytest.skip("no `ss` to list listening sockets")
    listening = [line for line in result.stdout.splitlines() if f":{mt_server.port} " in line]
    assert listening and all("127.0.0.1:" in line for line in listening), listening


def test_serve_refuses_a_missing_model(data_dir, log_dir) -> None:
    result = run_bytes(["serve.py", f"port={free_port()}"], data_dir, log_dir)
    assert result.returncode == 1
    assert b"give ckpt_path=" in result.stderr and b"Traceback" not in result.stderr


# -- the page, in a real browser -------------------------------------------------------------------


def chromium_driver(screenshots: Path):
    """Headless Chromium through Selenium and Debian's chromium-driver, or a skip saying why."""
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if browser is None or driver is None:
        pytest.skip("no chromium / chromedriver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    screenshots.mkdir(parents=True, exist_ok=True)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    driver = chromium_driver(tmp_path_factory.mktemp("screenshots"))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def test_page_translates_with_a_heatmap(browser, mt_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(mt_server.url + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "task-name").text == "translation")
    assert "en → de" in browser.find_element(By.ID, "model-summary").text
    browser.find_element(By.ID, "text").send_keys(SENTENCES[1])
    browser.find_element(By.ID, "beam-size").send_keys("2")
    browser.find_element(By.ID, "max-length").send_keys("12")
    browser.find_element(By.ID, "run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "result").is_displayed())
    expected = mt_server.post({"text": SENTENCES[1], "attention": True, **OPTIONS})[1]
    assert browser.find_element(By.ID, "output").text == expected["outputs"][0].strip()
    explained = expected["attention"][0]
    rows = browser.find_elements(By.CSS_SELECTOR, "#heatmap tbody tr")
    assert len(rows) == len(explained["output"])
    assert all(len(r.find_elements(By.TAG_NAME, "td")) == len(explained["source"]) for r in rows)
    assert (
        len(browser.find_elements(By.CSS_SELECTOR, "#heatmap thead th"))
        == len(explained["source"]) + 1
    )
    browser.save_screenshot(str(tmp_path / "translation.png"))
    assert (tmp_path / "translation.png").stat().st_size > 0


def test_page_shows_a_bad_request(browser, mt_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(mt_server.url + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "task-name").text == "translation")
    browser.find_element(By.ID, "text").send_keys("word " * 100)  # over limits.max_chars
    browser.find_element(By.ID, "run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "422" in browser.find_element(By.ID, "error").text
    assert "at most 300" in browser.find_element(By.ID, "error").text
    browser.save_screenshot(str(tmp_path / "error.png"))


def test_page_highlights_the_qa_answer(browser, qa_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(qa_server.url + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "error").is_displayed())  # 401: no key yet
    assert "401" in browser.find_element(By.ID, "error").text
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    browser.find_element(By.ID, "save-key").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "task-name").text == "qa")
    question = QUESTIONS[0]
    browser.find_element(By.ID, "qa-context").send_keys(question["context"])
    browser.find_element(By.ID, "qa-question").send_keys(question["question"])
    browser.find_element(By.ID, "ask").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "qa-result").is_displayed())
    expected = qa_server.post(question)[1]
    mark = browser.find_element(By.CSS_SELECTOR, "#passage mark")
    assert mark.text == expected["answer"]
    assert browser.find_element(By.ID, "passage").text == question["context"]
    browser.save_screenshot(str(tmp_path / "qa.png"))


def test_a_model_file_serves_as_its_checkpoint(
    mt_server, lstm, data_dir, log_dir, tmp_path
) -> None:
    """model_file= (an exported model) loads through the same safe path and answers the same."""
    from encdec.serving.api import Seq2SeqAPI
    from encdec.serving.schemas import TextRequest

    model = tmp_path / "model.pt"
    result = run_bytes(
        [*["-m", "encdec.export"], f"ckpt_path={lstm}", f"out={model}"], data_dir, log_dir
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    api = Seq2SeqAPI(str(model), model_file=True)
    api.setup("cpu")
    served = mt_server.post({"texts": SENTENCES[:3], **OPTIONS})[1]["outputs"]
    assert api.predict([TextRequest(texts=SENTENCES[:3], **OPTIONS)])[0]["outputs"] == served


# -- semantic vectors (POST /encode) ---------------------------------------------------------------


def test_encode_equals_the_api_batched_as_alone(mt_server, qa_server, lstm, reader) -> None:
    """POST /encode on both kinds (its own LitAPI and worker) == encdec.load(ckpt).encode; the
    same key rule as /predict; a pooling the model lacks is a 4xx naming the field."""
    import torch  # noqa: PLC0415 (the servers' tests need no model in this process)

    import encdec  # noqa: PLC0415

    for server, ckpt in ((mt_server, lstm), (qa_server, reader)):
        expected = encdec.load(str(ckpt)).encode(SENTENCES[:4])

        def post(texts: list[str], server=server) -> tuple[int, dict | str]:
            return request(f"{server.url}/encode", {"texts": texts}, key=server.key)

        with ThreadPoolExecutor(4) as pool:  # sent together: batched, each as alone
            answers = list(pool.map(post, [[s] for s in SENTENCES[:4]]))
        assert [a[0] for a in answers] == [200] * 4, answers
        got = [a[1]["vectors"][0] for a in answers]  # type: ignore[index]
        torch.testing.assert_close(torch.tensor(got), expected, atol=1e-5, rtol=0)
        status, body = post(SENTENCES[:4])
        assert status == 200 and body["dim"] == expected.shape[1]  # type: ignore[index]
    status, body = request(f"{mt_server.url}/encode", {"texts": ["a"], "side": "passage"})
    assert status == 422 and body["field"] == "side", body  # type: ignore[index]
    status, body = request(f"{mt_server.url}/encode", {"texts": ["a"], "pooling": "max"})
    assert status == 422 and body["field"] == "pooling", body  # type: ignore[index]
    status, _ = request(f"{qa_server.url}/encode", {"texts": ["a"]})  # no key
    assert status == 401


# -- a retrieval model: the search view ------------------------------------------------------------
COLLECTION = [
    {"id": "paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "sb50", "text": "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50."},
    {"id": "plants", "text": "Photosynthesis turns light energy into chemical energy in plants."},
]  # fmt: skip


@pytest.fixture(scope="module")
def search_server(
    retriever_file: Path, reader: Path, data_dir: Path, log_dir: Path
) -> Iterator[Server]:
    """A (here untrained) retriever over a 3-passage collection, fused with BM25, and a reader."""
    from encdec.cli.search import build_index  # noqa: PLC0415
    from tests.cli.test_search import config  # noqa: PLC0415

    passages = log_dir / "collection.jsonl"
    passages.write_text("".join(json.dumps(p) + "\n" for p in COLLECTION), encoding="utf-8")
    build_index(config("index", f"retriever={retriever_file}", f"passages={passages}"))
    args = [f"model_file={retriever_file}", f"passages={passages}", "hybrid=true",
            f"reader={reader}", "k=2"]  # fmt: skip
    server = Server(args, data_dir, log_dir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_search_equals_ask_and_bad_requests_name_the_field(
    search_server, retriever_file, reader, log_dir, tmp_path
) -> None:
    from encdec.cli.search import ask  # noqa: PLC0415
    from tests.cli.test_search import config  # noqa: PLC0415

    question = "Who won Super Bowl 50?"
    status, found = search_server.post({"question": question, "k": 3})
    assert status == 200, found
    out = tmp_path / "asked.jsonl"
    ask(config("ask", f"passages={log_dir / 'collection.jsonl'}", f"retriever={retriever_file}",
               "hybrid=true", f"reader={reader}", f"question={question}", "k=3",
               f"output={out}"))  # fmt: skip
    expected = json.loads(out.read_text())
    assert found == {k: v for k, v in expected.items() if k not in ("id", "question")}
    assert len(search_server.post({"question": question})[1]["passages"]) == 2  # the server's k
    for body, field in (({"question": " "}, "question"), ({"question": "Who?", "k": 21}, "k"),
                        ({"question": "Who?", "k": "3"}, "k")):  # fmt: skip
        status, answer = search_server.post(body)
        assert status == 422 and answer["field"] == field, (body, answer)  # type: ignore[index]
    status, info = request(f"{search_server.url}/model")
    assert status == 200 and info["task"] == "retrieval"  # type: ignore[index]
    assert info["search"] == {"passages": 3, "k": 2, "hybrid": True, "reader": True}  # type: ignore[index]


def test_page_searches_and_marks_the_answer(browser, search_server, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(search_server.url + "/")
    wait_for(browser, lambda d: d.find_element(By.ID, "task-name").text == "retrieval")
    question = "Who won Super Bowl 50?"
    browser.find_element(By.ID, "search-question").send_keys(question)
    browser.find_element(By.ID, "search-k").send_keys("3")
    browser.find_element(By.ID, "search-run").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "search-result").is_displayed())
    expected = search_server.post({"question": question, "k": 3})[1]
    items = browser.find_elements(By.CSS_SELECTOR, "#search-passages li")
    assert len(items) == 3
    for item, passage in zip(items, expected["passages"], strict=True):
        assert item.text.startswith(passage["id"]) and passage["text"] in item.text
    assert browser.find_element(By.ID, "search-answer").text == expected["answer"].strip()
    marks = browser.find_elements(By.CSS_SELECTOR, "#search-passages mark")
    assert [m.text for m in marks] == [expected["answer"].strip()]
    browser.save_screenshot(str(tmp_path / "search.png"))


def test_serve_py_refuses_a_search_setup_that_cannot_work(
    retriever_file: Path, lstm: Path, data_dir: Path, log_dir: Path, tmp_path: Path
) -> None:
    """One line, exit 1: a retriever without passages, an unindexed collection, passages for a
    translation model."""
    missing_index = tmp_path / "other.jsonl"
    missing_index.write_text(json.dumps(COLLECTION[0]) + "\n")
    for args, said in (
        ([f"model_file={retriever_file}"], "is a retrieval model: it searches a collection"),
        ([f"model_file={retriever_file}", f"passages={missing_index}"], "No passage index at"),
        ([f"ckpt_path={lstm}", f"passages={missing_index}"], "passages= is for retrieval models"),
        ([f"ckpt_path={lstm}", "reader=x.pt"], "reader: only with passages=<file>"),
    ):
        result = subprocess.run(
            [sys.executable, "serve.py", *args, "port=0", f"paths.log_dir={log_dir}"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "ENCDEC_DATA_DIR": str(data_dir)},
        )  # fmt: skip
        assert result.returncode == 1 and said in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
