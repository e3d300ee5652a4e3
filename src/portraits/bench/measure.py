"""Wall time and peak memory of a piece of work, Spark's JVM included."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

INTERVAL = 0.05  # seconds between two looks at the memory


@dataclass
class Measured:
    """Filled in when the measured block ends: wall seconds, peak resident memory (MB)
    of this process and its children (Spark's JVM is a child of the driver)."""

    seconds: float = 0.0
    peak_rss_mb: float = 0.0


def _resident(process: psutil.Process) -> int:
    total: int = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += int(child.memory_info().rss)
        except psutil.Error:  # it ended between the listing and the look
            continue
    return total


@contextmanager
def measure() -> Iterator[Measured]:
    """Time the block and sample its resident memory every 50 ms (a thread; the
    ``resource`` module's peak would miss the JVM and count what came before the block).

    Example:
        >>> with measure() as m:
        ...     _ = sum(range(1000))
        >>> m.seconds >= 0 and m.peak_rss_mb > 0
        True
    """
    process = psutil.Process()
    result = Measured()
    peak = [_resident(process)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(INTERVAL):
            peak[0] = max(peak[0], _resident(process))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        result.peak_rss_mb = max(peak[0], _resident(process)) / 2**20
