"""This host's resources via psutil, as fractions 0..1. CPU is measured over an interval: since the previous call
in this process, or over a short blocking window when there was none (psutil's first reading is meaningless)."""

from __future__ import annotations

import os
import socket
import threading
import time

import psutil
from pydantic import BaseModel

FIRST_WINDOW_S = 0.1
_lock = threading.Lock()
_last_cpu_call: float | None = None


class HostResources(BaseModel):
    host: str
    cpu: float
    memory: float
    disk: float
    load1: float | None = None
    process_rss_bytes: int
    cpu_window_s: float  # what the CPU figure was measured over


def cpu_fraction() -> tuple[float, float]:
    """(busy fraction, seconds it was measured over)."""
    global _last_cpu_call
    with _lock:
        now = time.monotonic()
        if _last_cpu_call is None:
            psutil.cpu_percent(interval=None)
            time.sleep(FIRST_WINDOW_S)
            window, now = FIRST_WINDOW_S, time.monotonic()
        else:
            window = now - _last_cpu_call
        _last_cpu_call = now
        return round(psutil.cpu_percent(interval=None) / 100, 4), round(window, 3)


def sample(disk_path: str = "/") -> HostResources:
    cpu, window = cpu_fraction()
    try:
        load1: float | None = round(os.getloadavg()[0], 3)
    except OSError:
        load1 = None
    return HostResources(host=socket.gethostname(), cpu=cpu, memory=round(psutil.virtual_memory().percent / 100, 4),
                         disk=round(psutil.disk_usage(disk_path).percent / 100, 4), load1=load1,
                         process_rss_bytes=psutil.Process().memory_info().rss, cpu_window_s=window)
