"""Caches on a cold start shared by several processes (DDP ranks, parallel runs): the tokenizer,
the encoded splits (Arrow) and the Word2Vec vectors are built once, every process gets them whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from encdec.cli.common import ROOT

#: Run in two processes at once: prepare a real Multi30k slice on a cold cache, and train vectors.
SCRIPT = """
import json, logging, sys, time
logging.basicConfig(level=logging.INFO)
from pathlib import Path
from encdec.data.seq2seq import Seq2SeqDataModule
from encdec.data.sources import Files
from encdec.data.word2vec import Word2VecSettings, cached_word2vec

data_dir, cache, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:  # both processes start the work at the same moment
    time.sleep(0.001)
dm = Seq2SeqDataModule(
    Files(pattern="{split}.{lang}.gz", src_lang="en", tgt_lang="de"),
    data_dir,
    {"train": "train", "val": "val", "test": "test_2016_flickr"},
    {"kind": "word", "vocab_size": 800},
    cache_dir=cache,
    limit_train=3000,
)
dm.prepare_data()
dm.setup()
vectors = cached_word2vec(
    dm.training_texts()[:2000], dm.tokenizer, 16, Word2VecSettings(epochs=1, workers=1), Path(cache)
)
print(json.dumps({
    "tokenizer": str(dm.tokenizer_path),
    "vocab": dm.tokenizer.get_vocab_size(),
    "sizes": {name: len(ds) for name, ds in dm.datasets.items()},
    "first": dm.datasets["val"][0].src_ids,
    "vectors": str(vectors),
}))
"""


def test_two_processes_on_a_cold_cache_build_each_file_once(data_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.time() + 8  # both have imported everything by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(data_dir / "multi30k"), str(cache), str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert results[0] == results[1]  # the same tokenizer, encoded splits and vectors file
    assert results[0]["sizes"] == {"train": 3000, "val": 1014, "test": 1000}
    logs = "".join(err for _, err in outputs)
    assert logs.count("Training a 800-token word tokenizer") == 1, logs[-3000:]

    def files(folder: str) -> list[str]:  # the cached files, without the hidden .lock files
        return sorted(p.name for p in (cache / folder).iterdir() if not p.name.startswith("."))

    assert files("tokenizers") == [Path(results[0]["tokenizer"]).name]
    assert files("vectors") == [Path(results[0]["vectors"]).name]
    assert len(files("datasets")) == 3 and all(n.endswith(".arrow") for n in files("datasets"))
    leftovers = [p for p in cache.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("tmp")]
    assert leftovers == []
