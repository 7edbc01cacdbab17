"""Decoding speed on test_2016_flickr (1,000 sentences): beam 5 and greedy, 1 and 2 threads.

    python bench/decode_speed.py --ckpt .cache/bench/reference.ckpt [--device cuda] [--precision fp32,bf16]

fp32 is the reference; bf16 (autocast, as eval.py's trainer.precision=bf16-mixed decodes) is an
option that changes the arithmetic, so its outputs can differ from fp32's: eval.py measures what
that does to BLEU.

The checkpoint should be a trained model (`make bench` trains the reference model for a few
epochs first): an untrained one runs every hypothesis to the length limit, which is not what a
user decodes. Also checks that batched beam search returns exactly what one-sentence-at-a-time
search returns on the first sentences.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from encdec.allocator import retain_freed_memory
from encdec.build import load_checkpoint
from encdec.data.batching import Batch


def decode_all(task, batches: list[Batch], beam: int) -> float:
    """Seconds to decode every batch."""
    start = time.perf_counter()
    for b in batches:
        task.decode(b, beam_size=beam)
    return time.perf_counter() - start


def check_one_by_one(task, batches: list[Batch], beam: int, limit: int) -> tuple[int, int]:
    """Decode the first `limit` sentences one at a time; how many equal the batched output."""
    same = checked = 0
    for b in batches:
        if checked >= limit:
            break
        batched = task.decode(b, beam_size=beam)
        for i in range(min(len(b), limit - checked)):
            length = int(b.src_lengths[i])
            one = Batch(b.src[i : i + 1, :length], b.src_lengths[i : i + 1], b.tgt_in[:0],
                        b.tgt_out[:0], b.ids[i : i + 1], [b.src_text[i]], [b.tgt_text[i]])  # fmt: skip
            same += task.decode(one, beam_size=beam)[0].tokens == batched[i].tokens
            checked += 1
    return same, checked


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ckpt", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--check", type=int, default=100, help="sentences compared one by one")
    p.add_argument("--device", default="cpu", help="cpu or cuda (then --threads is ignored)")
    p.add_argument("--precision", default="fp32", help="fp32, bf16 or both: fp32,bf16")
    args = p.parse_args()
    precisions = args.precision.split(",")
    if not set(precisions) <= {"fp32", "bf16"}:
        p.error(f"--precision takes fp32 and/or bf16, comma-separated; got {args.precision!r}.")
    retain_freed_memory()  # as eval.py and predict.py do
    loaded = load_checkpoint(args.ckpt, data_dir=os.environ.get("ENCDEC_DATA_DIR"), with_data=True)
    task, datamodule = loaded.task, loaded.datamodule
    datamodule.setup("test")
    batches = move_data_to_device(list(datamodule.test_dataloader()), args.device)
    n = sum(len(b) for b in batches)
    task.eval().to(args.device)
    on_cpu = args.device == "cpu"
    thread_counts = [int(t) for t in args.threads.split(",")] if on_cpu else [None]
    for precision in precisions:
        autocast = torch.autocast(args.device, torch.bfloat16, enabled=precision == "bf16")
        with torch.inference_mode(), autocast:
            for threads in thread_counts:  # None: on the GPU, where CPU threads do not matter
                if threads:
                    torch.set_num_threads(threads)
                where = f"{threads} thread(s)" if threads else torch.cuda.get_device_name()
                for beam in (5, 1):
                    decode_all(task, batches[:1], beam)  # warm-up
                    seconds = decode_all(task, batches, beam)
                    print(
                        f"decode test_2016_flickr ({n} sentences), {precision}, beam {beam}, "
                        f"{where}: {seconds:.2f} s = {n / seconds:,.0f} sentences/s"
                    )
            for beam in (5, 1):
                same, checked = check_one_by_one(task, batches, beam, args.check)
                print(
                    f"{precision}, beam {beam}: batched == one-by-one on {same}/{checked} sentences"
                )
    where = f"--threads {args.threads}" if on_cpu else f"--device {args.device}"
    print(
        f"command: python bench/decode_speed.py --ckpt {args.ckpt} {where} "
        f"--precision {args.precision}"
    )


if __name__ == "__main__":
    main()
