"""How long this process has run: light enough for the CLI and every worker process to import first."""

from __future__ import annotations

import os
import time
from pathlib import Path

STARTED = time.perf_counter()  # when this module was imported (process_seconds falls back on it)


def process_seconds() -> float:
    """Seconds since this process started (Linux: from /proc, so Python's start and every import count; elsewhere
    since this module was imported: the CLI imports it first)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        return float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - STARTED
