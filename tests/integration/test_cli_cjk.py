"""Chinese <-> English from the command line, on the corpus of tests/cjk_corpus.py written as
`{split}.{lang}.gz` files: the tokenizer gives every sentence back exactly, and BLEU uses the
target language's tokenization (`task.metric.tokenize`), recorded with the score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from encdec.data.readers import read_lines
from tests.integration.test_cli import only, run
from tests.support.cjk_corpus import chinese_english, split_pairs, write_gz_pairs
from tests.test_bleu_tokenize import sacrebleu_cli

# make test-slow (and CI): two CLI trainings (~1 minute).
pytestmark = pytest.mark.slow

TINY = [
    "data.tokenizer.vocab_size=500",
    "data.max_tokens=1024",
    "model.embedding_dim=32",
    "model.hidden_dim=64",
    "trainer.max_epochs=2",
    "trainer.num_sanity_val_steps=0",
    "trainer.enable_progress_bar=false",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "logger=none",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zh-en")
    return write_gz_pairs(folder, split_pairs(chinese_english()), "zh", "en")


@pytest.mark.parametrize(
    ("src", "tgt", "tokenize"), [("zh", "en", "13a"), ("en", "zh", "zh")], ids=["zh-en", "en-zh"]
)
def test_train_translates_and_scores_in_the_target_language(
    src: str, tgt: str, tokenize: str, corpus: Path, data_dir: Path, tmp_path: Path
) -> None:
    args = [
        "train.py",
        "task=translation",
        f"data.data_dir={corpus}",
        f"data.source.src_lang={src}",
        f"data.source.tgt_lang={tgt}",
        "data.splits.test=test",
        "data.source.download_url=null",
        *([f"task.metric.tokenize={tokenize}"] if tokenize != "13a" else []),  # 13a: the default
        *TINY,
    ]
    result = run(args, data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only(list((tmp_path / "outputs").glob("*/*")))
    # The run's tokenizer splits Chinese into characters and gives every sentence back exactly.
    tok = Tokenizer.from_file(str(run_dir / "tokenizer.json"))
    assert "Split" in tok.to_str()
    for split in ("train", "val", "test"):
        for lang in (src, tgt):
            for line in read_lines(corpus / f"{split}.{lang}.gz"):
                assert tok.decode(tok.encode(line).ids) == line
    # test/bleu is what `sacrebleu -tok <tokenize>` gives on the written hypotheses ...
    metrics = json.loads((run_dir / "metrics.json").read_text())
    hyps = (run_dir / "predictions" / "test.txt").read_text(encoding="utf-8").splitlines()
    refs = read_lines(corpus / f"test.{tgt}.gz")
    assert len(hyps) == len(refs) == 40
    expected = sacrebleu_cli(refs, hyps, tokenize, tmp_path)
    assert metrics["test/bleu"] == pytest.approx(expected, abs=1e-4)
    # ... and the tokenization is recorded with the score: the printed signature and a file.
    assert f"BLEU signature (sacreBLEU): nrefs:1|case:mixed|eff:no|tok:{tokenize}|" in result.stdout
    record = json.loads((run_dir / "predictions" / "test.bleu.json").read_text())
    assert record["tokenize"] == tokenize
    assert record["bleu"] == pytest.approx(expected, abs=1e-6)
    assert f"tok:{tokenize}" in record["signature"]
