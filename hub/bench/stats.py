"""The benchmark's arithmetic: percentiles, rates, Prometheus text and /proc parsing. Pure."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+0-9.eEinfNa]+)$", re.MULTILINE)


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks (the
    method numpy calls ``linear``); NaN for no samples."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0..100")
    if not samples:
        return math.nan
    ordered = sorted(samples)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rate(count: int, seconds: float) -> float:
    """Per second; 0 when nothing was timed."""
    return count / seconds if seconds > 0 else 0.0


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of every sample of ``name`` in Prometheus text format whose labels include
    ``labels`` (``name`` as exposed, e.g. ``v2v_events_processed_total``)."""
    total = 0.0
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for match in _SAMPLE.finditer(text):
        if match.group(1) != name:
            continue
        got = match.group(2) or ""
        if all(w in got for w in wanted):
            total += float(match.group(3))
    return total


def vm_rss_bytes(status_text: str) -> int:
    """``VmRSS`` of a ``/proc/<pid>/status`` text, in bytes."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmRSS unit {unit!r}")
            return int(value) * 1024
    raise ValueError("no VmRSS line (is it a kernel thread or a zombie?)")


def proc_cpu_seconds(stat_text: str, ticks_per_s: int) -> float:
    """User + system CPU time of a ``/proc/<pid>/stat`` line (all threads), in seconds."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_s


def per_10k(delta_bytes: int, chains: int) -> float:
    """A memory increase for ``chains`` chains, scaled to 10,000 chains (MB, 10^6 bytes)."""
    if chains <= 0:
        return math.nan
    return delta_bytes / 1e6 * 10_000 / chains
