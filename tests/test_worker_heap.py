"""The worker moves what it loaded at startup out of the garbage collector's reach."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from alertcast.stream import worker


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_what_lives_is_frozen_and_garbage_is_collected_first() -> None:
    kept = [Node() for _ in range(3)]
    garbage = Node()
    garbage.other = Node()
    garbage.other.other = garbage  # a cycle: only the collector frees it
    gone = weakref.ref(garbage)
    del garbage

    moved = worker.freeze_loaded_heap()

    assert moved == gc.get_freeze_count() > len(kept)
    assert gone() is None
    young_and_old = {id(item) for item in gc.get_objects()}
    assert not young_and_old & {id(node) for node in kept}
