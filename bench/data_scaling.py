"""Peak memory and preparation time of a data=text_pairs corpus against its size.

    python bench/data_scaling.py --sizes 500000 1000000 2000000     # the figures (minutes, GBs)
    python bench/data_scaling.py --sizes 2000 5000 10000            # a quick check that it works

Each size is a TSV corpus generated from the shared Multi30k en-de training text (sentence i joined
with a second, pseudo-random sentence, on both sides alike, so lines are distinct and realistic),
with Multi30k's own val and test. Each size is prepared in a fresh process, as train.py prepares
it (TextPairsDataModule.prepare_data: read, train the BPE tokenizer; setup: encode every split
into cached Arrow files), with an empty cache. Reported: wall time, the process's peak RSS
(ru_maxrss) and its peak anonymous RSS (RssAnon of /proc/self/status, sampled every 50 ms). The
difference is file-backed pages: the memory-mapped Arrow files, which count as resident once read
but are page cache the kernel takes back under memory pressure; the anonymous part is the memory
the preparation really needs. `--keep` leaves the generated corpora in the work folder.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sentences(data_dir: Path, split: str, lang: str) -> list[str]:
    path = data_dir / "multi30k" / f"{split}.{lang}.gz"
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def write_tsv(path: Path, pairs) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["en", "de"])
        writer.writerows(pairs)


def generate(data_dir: Path, folder: Path, size: int) -> None:
    """folder/{train,val,test}.tsv: `size` generated training pairs, Multi30k val / test."""
    folder.mkdir(parents=True, exist_ok=True)
    en, de = sentences(data_dir, "train", "en"), sentences(data_dir, "train", "de")
    n = len(en)

    def pairs():
        for i in range(size):
            j = (i * 7919 + i // n) % n  # a second sentence, different per round over the corpus
            yield f"{en[i % n]} {en[j]}", f"{de[i % n]} {de[j]}"

    write_tsv(folder / "train.tsv", pairs())
    for stage, split in (("val", "val"), ("test", "test_2016_flickr")):
        write_tsv(
            folder / f"{stage}.tsv",
            zip(sentences(data_dir, split, "en"), sentences(data_dir, split, "de"), strict=True),
        )


class AnonymousPeak:
    """The peak of RssAnon (Linux), sampled in a background thread."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.peak_kib, self.every_s = 0, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    self.peak_kib = max(self.peak_kib, int(line.split()[1]))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak_kib


def prepare(folder: Path, cache: Path) -> dict:
    """(in the child process) Prepare the corpus as train.py does; time and peak RSS."""
    from encdec.data.pairs import TextPairsDataModule

    anonymous = AnonymousPeak()
    start = time.perf_counter()
    dm = TextPairsDataModule(
        str(folder),
        splits={s: f"{s}.tsv" for s in ("train", "val", "test")},
        source_field="en",
        target_field="de",
        cache_dir=str(cache),
        vocab_size=8000,
        max_len=200,
    )
    dm.prepare_data()
    tokenizer_s = time.perf_counter() - start
    dm.setup()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    anonymous_kib = anonymous.stop()
    return {
        "pairs": len(dm.split_text("train")),
        "kept": len(dm.datasets["train"]),
        "read_and_tokenizer_s": round(tokenizer_s, 1),
        "total_s": round(time.perf_counter() - start, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "peak_anonymous_mib": round(anonymous_kib / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000, 2_000_000])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $ENCDEC_DATA_DIR")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(prepare(Path(args.child[0]), Path(args.child[1]))))
        return
    data_dir = args.data_dir or Path(os.environ.get("ENCDEC_DATA_DIR", ROOT / "data"))
    work = args.work or Path(tempfile.mkdtemp(prefix="encdec-scaling-"))
    rows = []
    try:
        for size in args.sizes:
            folder = work / f"corpus_{size}"
            started = time.perf_counter()
            generate(data_dir, folder, size)
            generated = time.perf_counter() - started
            cache = work / f"cache_{size}"
            shutil.rmtree(cache, ignore_errors=True)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(folder), str(cache)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            )
            row = {"size": size, "tsv_mib": round((folder / "train.tsv").stat().st_size / 2**20)}
            row |= json.loads(out.stdout.strip().splitlines()[-1])
            row["generate_s"] = round(generated, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if not args.keep:
                shutil.rmtree(folder)
                shutil.rmtree(cache, ignore_errors=True)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        "\n| pairs | TSV (MiB) | peak RSS (MiB) | of it anonymous (MiB) | read + tokenizer (s) "
        "| total prep (s) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['size']:,} | {r['tsv_mib']} | {r['peak_rss_mib']} | {r['peak_anonymous_mib']} "
            f"| {r['read_and_tokenizer_s']} | {r['total_s']} |"
        )
    print(f"\n(python bench/data_scaling.py --sizes {' '.join(map(str, args.sizes))})")


if __name__ == "__main__":
    main()
