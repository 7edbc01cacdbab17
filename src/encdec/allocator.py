"""Keep freed large blocks in the process heap (glibc), so PyTorch's CPU tensors reuse them.

On the CPU, PyTorch allocates every tensor with malloc and frees it when the last reference
goes. Each decoder step of this model family makes and drops the same large tensors (logits of
(rows, vocabulary), attention energies of (rows, source, units): 50–70 MB in beam search).
glibc serves blocks above its mmap threshold (32 MB at most, by default) with fresh mmap pages
and unmaps them on free, so every step pays a page fault and a zeroed page per 4 KB. Measured on
the 2-core benchmark machine: beam-5 decoding of test_2016_flickr spent 4.3 of 21 CPU-seconds in
the kernel, and took 5.3-5.4 s instead of 6.9 s with the blocks kept (docs/performance.md).
Raising the mmap and trim thresholds keeps them in the heap (what jemalloc or tcmalloc, PyTorch's
usual advice for CPU work, do by design). The heap takes a few rounds to settle into reusing
blocks (tests/test_allocator.py), so it raises the resident size: blocks up to 64 MB are kept,
larger ones (training's 128 MB logits) still mapped afresh. Keeping every size was ~4 % faster
in training but peaked at 2.3-2.6 GB in fp32 (3.4 in bf16), against 2.35 (3.1) with this limit.

The entry points call `retain_freed_memory()` first; ENCDEC_MALLOC=default opts out.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap; larger ones are mapped afresh (see above).
MMAP_THRESHOLD = 64 << 20
#: Free memory at the top of the heap is returned to the system only beyond this.
TRIM_THRESHOLD = (1 << 31) - 1


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True when applied (Linux with glibc only)."""
    if os.environ.get("ENCDEC_MALLOC", "").lower() == "default":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc (musl, macOS: absent)
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not applied:
        log.debug("mallopt refused the thresholds; glibc's defaults stay.")
    return applied
