"""freeze_loaded_heap: what is alive is frozen out of collections; what comes later is not."""

from __future__ import annotations

import gc

from churn_core.heap import freeze_loaded_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_frozen_objects_are_skipped_and_later_ones_collected() -> None:
    before = Node()
    try:
        frozen = freeze_loaded_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert not gc.is_tracked(before) or all(before is not o for o in gc.get_objects())
        after = Node()
        assert any(after is o for o in gc.get_objects())  # collected as before
        del after
        assert gc.collect() >= 1  # the new cycle is found
    finally:
        gc.unfreeze()
    assert any(before is o for o in gc.get_objects())  # back in a generation
