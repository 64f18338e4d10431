"""Keep the loaded process out of the garbage collector's way, once a server is ready.

A server that has loaded its model holds ~170,000 objects the cyclic garbage collector tracks
(modules, pydantic and FastAPI objects, the model's tables) and that live as long as the
process. Every full collection walks them all: under load (requests allocate, and the capture
queue keeps each request's objects alive for up to 50 ms, so some reach the oldest
generation) that cost serving-api 5-13 µs per ``POST /predict`` on average, spent in pauses of
tens of milliseconds. ``gc.freeze()`` moves every object alive at that moment into a permanent
generation that collections skip (1-2 µs per request after, measured in process, 20,000
requests). What is frozen is never collected as a cycle; reference counting still frees it,
and what the server allocates afterwards is collected as before.

Python 3.10 compatible: this module ships inside the SageMaker tarball with the rest of the core.
"""

from __future__ import annotations

import gc


def freeze_loaded_heap() -> int:
    """Collect once, then freeze every object still alive; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
