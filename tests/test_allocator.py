"""encdec.allocator: freed large blocks are reused instead of being mapped afresh every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

# Allocate and fill a 48 MB tensor 20 times; count the page faults of the last 10 (glibc's heap
# takes a few rounds to settle: memalign's padding keeps a just-freed block from fitting at once).
PROBE = """
import json, resource, torch
from encdec.allocator import retain_freed_memory
applied = retain_freed_memory()
faults = []
for _ in range(20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    x = torch.ones(12 << 20)  # 48 MB: above glibc's largest default mmap threshold (32 MB)
    del x
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": sum(faults[10:])}))
"""


def probe(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_large_blocks_are_reused_once_retained() -> None:
    retained = probe({})
    assert retained["applied"]
    # 10 x 48 MB in 4 KB pages: 122,880 faults if every block were mapped afresh.
    assert retained["faults"] < 2_000, retained


def test_default_opts_out() -> None:
    assert probe({"ENCDEC_MALLOC": "default"})["applied"] is False
