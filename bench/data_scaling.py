"""Peak memory and preparation time of a data=text_pairs corpus against its size.

    python bench/data_scaling.py --sizes 500000 1000000 2000000     # the figures (minutes, GBs)
    python bench/data_scaling.py --sizes 2000 5000 10000            # a quick check that it works
    python bench/data_scaling.py --sizes 500000 1000000 2000000 --train-steps 30   # + training

Each size is a TSV corpus generated from the shared Multi30k en-de training text (sentence i joined
with a second, pseudo-random sentence, on both sides alike, so lines are distinct and realistic),
with Multi30k's own val and test. Each size is prepared in a fresh process, as train.py prepares
it (Seq2SeqDataModule.prepare_data: read, train the BPE tokenizer; setup: encode every split
into cached Arrow files), with an empty cache. Reported: wall time, the process's peak RSS
(ru_maxrss) and its peak anonymous RSS (RssAnon of /proc/self/status, sampled every 50 ms). The
difference is file-backed pages: the memory-mapped Arrow files, which count as resident once read
but are page cache the kernel takes back under memory pressure; the anonymous part is the memory
the preparation really needs. `--train-steps N` then trains a small model N steps on each corpus
(train.py, the cache reused) and reports its peaks the same way. `--keep` leaves the generated
corpora in the work folder.
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
#: The child processes import this checkout's encdec.
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


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


class MemoryPeak:
    """Peaks of RssAnon and RssFile of a process (Linux /proc/<pid>/status), sampled in a
    background thread."""

    def __init__(self, pid: int | str = "self", every_s: float = 0.05) -> None:
        self.status, self.every_s = f"/proc/{pid}/status", every_s
        self.peak_kib = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            with open(self.status) as f:
                for line in f:
                    name = line.split(":")[0]
                    if name in self.peak_kib:
                        self.peak_kib[name] = max(self.peak_kib[name], int(line.split()[1]))
        except OSError:  # the process has ended
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def stop(self) -> dict[str, int]:
        """The peaks in MiB."""
        self._stop.set()
        self._thread.join()
        return {name: round(kib / 1024) for name, kib in self.peak_kib.items()}


#: A small model for --train-steps: the figure is the data's memory, not the model's.
TRAIN = [
    "task=translation",
    "data=text_pairs",
    "data.splits.train=train.tsv",
    "data.splits.val=val.tsv",
    "data.splits.test=test.tsv",
    "data.source.source_field=en",
    "data.source.target_field=de",
    "data.tokenizer.vocab_size=8000",
    "data.max_len=200",
    "model.embedding_dim=64",
    "model.hidden_dim=128",
    "trainer.limit_val_batches=5",
    "test=false",
    "logger=csv",
]


def train(folder: Path, cache: Path, steps: int) -> dict:
    """train.py for `steps` steps on the prepared corpus (its cache reused); its peak memory."""
    overrides = [
        f"paths.data_dir={folder}",
        f"paths.cache_dir={cache}",
        f"paths.log_dir={folder / 'runs'}",
        f"trainer.max_steps={steps}",
        f"trainer.val_check_interval={steps}",
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *TRAIN, *overrides],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    peak = MemoryPeak(proc.pid, every_s=0.2)
    _, err = proc.communicate()
    mib = peak.stop()
    if proc.returncode:
        raise SystemExit(f"train.py failed:\n{err[-3000:]}")
    return {
        "train_anonymous_mib": mib["RssAnon"],
        "train_file_mib": mib["RssFile"],
        "train_s": round(time.perf_counter() - started, 1),
    }


def prepare(folder: Path, cache: Path) -> dict:
    """(in the child process) Prepare the corpus as train.py does; time and peak RSS."""
    from encdec.data.seq2seq import Seq2SeqDataModule
    from encdec.data.sources import Files

    memory = MemoryPeak()
    start = time.perf_counter()
    dm = Seq2SeqDataModule(  # data=text_pairs
        Files(source_field="en", target_field="de"),
        str(folder),
        splits={s: f"{s}.tsv" for s in ("train", "val", "test")},
        tokenizer={"kind": "bpe", "vocab_size": 8000},
        cache_dir=str(cache),
        max_len=200,
    )
    dm.prepare_data()
    tokenizer_s = time.perf_counter() - start
    dm.setup()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peaks = memory.stop()
    return {
        "pairs": len(dm.split_text("train")),
        "kept": len(dm.datasets["train"]),
        "read_and_tokenizer_s": round(tokenizer_s, 1),
        "total_s": round(time.perf_counter() - start, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "peak_anonymous_mib": peaks["RssAnon"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 1_000_000, 2_000_000])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $ENCDEC_DATA_DIR")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--train-steps",
        type=int,
        default=0,
        help="then train a small model this many steps on each corpus (train.py) and report "
        "its peak anonymous and file-backed memory",
    )
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
                env=CHILD_ENV,
            )
            row = {"size": size, "tsv_mib": round((folder / "train.tsv").stat().st_size / 2**20)}
            row |= json.loads(out.stdout.strip().splitlines()[-1])
            row["generate_s"] = round(generated, 1)
            if args.train_steps:
                row |= train(folder, cache, args.train_steps)
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
    if args.train_steps:
        print(
            f"\n| pairs | train.py, {args.train_steps} steps: anonymous (MiB) | file-backed (MiB) |"
        )
        print("| ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['size']:,} | {r['train_anonymous_mib']} | {r['train_file_mib']} |")
    command = f"python bench/data_scaling.py --sizes {' '.join(map(str, args.sizes))}"
    if args.train_steps:
        command += f" --train-steps {args.train_steps}"
    print(f"\n({command})")


if __name__ == "__main__":
    main()
