"""BLEU after the target language: `task.metric.tokenize` scores as the sacrebleu command does with
the same `-tok`, on Chinese and Japanese text written for the tests (tests/cjk_corpus.py)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from encdec import metrics
from encdec.errors import ConfigError
from tests.support.cjk_corpus import chinese_english, japanese_english

try:
    metrics.bleu_scorer("ja-mecab")
    MECAB = ""
except ConfigError as err:
    MECAB = str(err)


def damaged(sentences: list[str], seed: int = 0) -> list[str]:
    """Hypotheses with mistakes: characters dropped, doubled or swapped for others."""
    rng = random.Random(seed)
    alphabet = sorted({c for s in sentences for c in s})
    out = []
    for s in sentences:
        chars = list(s)
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(chars))
            op = rng.choice("dxr")
            if op == "d" and len(chars) > 1:
                del chars[i]
            elif op == "x":
                chars.insert(i, chars[i])
            else:
                chars[i] = rng.choice(alphabet)
        out.append("".join(chars))
    return out


def sacrebleu_cli(refs: list[str], hyps: list[str], tokenize: str, tmp_path: Path) -> float:
    """The score of `sacrebleu REF -i HYP -tok TOKENIZE`, run as a command on files."""
    ref_file, hyp_file = tmp_path / f"ref.{tokenize}.txt", tmp_path / f"hyp.{tokenize}.txt"
    ref_file.write_text("".join(r + "\n" for r in refs), encoding="utf-8")
    hyp_file.write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
    exe = shutil.which("sacrebleu")
    command = [exe] if exe else [sys.executable, "-m", "sacrebleu"]
    result = subprocess.run(
        [*command, str(ref_file), "-i", str(hyp_file), "-tok", tokenize, "-f", "json", "-w", "6"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["score"]


CASES = {
    "zh": [zh for zh, _ in chinese_english()],
    "char": [zh for zh, _ in chinese_english()],
    "intl": [ja for ja, _ in japanese_english()],
    "13a": [en for _, en in chinese_english()],
    "ja-mecab": [ja for ja, _ in japanese_english()],
}


@pytest.mark.parametrize("tokenize", sorted(CASES))
def test_scores_as_the_sacrebleu_command(tokenize: str, tmp_path: Path) -> None:
    if tokenize == "ja-mecab" and MECAB:
        pytest.skip(f"ja-mecab needs MeCab: {MECAB}")
    refs = CASES[tokenize]
    hyps = damaged(refs)
    score, signature = metrics.bleu_with_signature(hyps, refs, tokenize)
    assert 5 < score < 95  # imperfect, so the tokenization matters
    assert round(score, 6) == pytest.approx(sacrebleu_cli(refs, hyps, tokenize, tmp_path), abs=1e-6)
    assert f"tok:{tokenize}" in signature


def test_tokenization_changes_the_score_of_unspaced_text() -> None:
    """13a sees a Chinese sentence as one word: nearly every damaged sentence scores zero."""
    refs = CASES["zh"]
    hyps = damaged(refs)
    assert metrics.bleu(hyps, refs, "13a") < metrics.bleu(hyps, refs, "zh") / 2


def test_an_unknown_tokenization_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"task.metric.tokenize='chinese'.*zh"):
        metrics.bleu_scorer("chinese")


def test_ja_mecab_without_mecab_says_what_to_install() -> None:
    """Where MeCab is missing (simulated: importing it fails), one line with the pip command."""
    code = (
        "import sys; sys.modules['MeCab'] = None\n"
        "from encdec import metrics\n"
        "try:\n    metrics.bleu_scorer('ja-mecab')\n"
        "except metrics.ConfigError as err:\n    print(err)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    message = result.stdout.strip()
    assert "\n" not in message
    assert message.startswith(
        "task.metric.tokenize=ja-mecab: sacreBLEU could not load its tokenizer"
    )
    assert "pip install mecab-python3 ipadic" in message
