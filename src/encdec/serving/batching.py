"""Dynamic batching that waits for requests instead of polling for them.

LitServe's batched loop asks the request queue (a `multiprocessing.Manager` queue: every call is
a round trip to the manager process) for a request every millisecond of every `batch_timeout`
window, forever: an idle server kept the worker and the manager process at 3-5 % of a core each.
Here the worker blocks in one `get` until the first request arrives (the manager thread sleeps
on a condition variable meanwhile), then gathers what else arrives within `batch_timeout` of it,
up to `max_batch_size`: the same batches, and an idle server that sleeps.
"""

from __future__ import annotations

import time
from queue import Empty, Queue
from typing import Any

from litserve import LitAPI
from litserve.loops.base import _SENTINEL_VALUE, _StopLoopError
from litserve.loops.simple_loops import BatchedLoop
from litserve.transport.base import MessageTransport
from litserve.utils import LitAPIStatus, LoopResponseType

#: Seconds one idle wait lasts before the loop asks again (once a second: nothing measurable).
IDLE_WAIT = 1.0

Batch = tuple[list[tuple[int, str, Any]], list[tuple[int, str]]]


def gather(
    loop: BatchedLoop, lit_api: LitAPI, request_queue: Queue, transport: MessageTransport
) -> Batch:
    """(requests to decode, requests that waited past `request_timeout`): empty after
    IDLE_WAIT without a request; raises `_StopLoopError` on LitServe's stop sentinel."""
    payloads: list[tuple[int, str, Any]] = []
    timed_out: list[tuple[int, str]] = []
    try:
        item = request_queue.get(timeout=IDLE_WAIT)  # blocks in the manager: no polling
    except Empty:
        return payloads, timed_out
    deadline = time.monotonic() + lit_api.batch_timeout
    apply_timeout = lit_api.request_timeout not in (-1, False)
    while True:
        if item == _SENTINEL_VALUE:
            raise _StopLoopError()
        response_queue_id, uid, timestamp, x_enc = item
        loop.put_response(
            transport=transport,
            response_queue_id=response_queue_id,
            uid=uid,
            response_data=(),
            status=LitAPIStatus.START,
            response_type=LoopResponseType.REGULAR,
        )
        if apply_timeout and time.monotonic() - timestamp > lit_api.request_timeout:
            timed_out.append((response_queue_id, uid))
        else:
            payloads.append((response_queue_id, uid, x_enc))
        if len(payloads) >= lit_api.max_batch_size:
            break
        remaining = deadline - time.monotonic()
        try:
            item = (
                request_queue.get(timeout=remaining)
                if remaining > 0
                else request_queue.get_nowait()
            )
        except Empty:
            break
    return payloads, timed_out


class WaitingBatchedLoop(BatchedLoop):
    """LitServe's batched loop (decoding, errors, responses unchanged) with `gather` collecting."""

    def get_batch_requests(
        self, lit_api: LitAPI, request_queue: Queue, transport: MessageTransport
    ) -> Batch:
        return gather(self, lit_api, request_queue, transport)


def loop_for(max_batch_size: int) -> WaitingBatchedLoop | str:
    """The loop for a LitAPI: ours when batching (LitServe's single-request loop already
    blocks, a second at a time), else LitServe's choice."""
    return WaitingBatchedLoop() if max_batch_size > 1 else "auto"
