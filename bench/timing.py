"""Timing a page in-process, shared by the benchmarks that drive the app's test client."""
from __future__ import annotations

import statistics
import time


def timed(client, url: str, rounds: int, before=None) -> float:
    """The median seconds of `rounds` GETs of `url` after a warm-up, running `before()` ahead of each
    (e.g. to empty a cache); every answer must be a 200."""
    client.get(url)  # warm caches and templates
    samples = []
    for _ in range(rounds):
        if before:
            before()
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)
