"""Pause the cyclic garbage collector around bulk work that builds many small objects.

Building a 100,000-job state or definition allocates millions of containers that hold no
reference cycles; the collector would walk the whole heap again and again for nothing.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: A paused block that left more new container objects than this freezes them.
FREEZE_AFTER = 200_000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (restored after, also on errors).

    When the block left many new objects (a big ledger opened, a big workflow defined),
    they move to the permanent generation (:func:`gc.freeze`) before the collector comes
    back: otherwise its next run walks all of them at once (half a second for a million
    events) and later full collections walk them again. They are still freed by reference
    counting as usual; only the cyclic collector no longer scans them (they are trees
    without cycles).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_AFTER:
                gc.freeze()
            gc.enable()
