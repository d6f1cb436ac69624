"""Per-client throttles for sign-in and the public forms.

A sliding window per client address, kept in memory per process: enough to slow a password
guesser or a form flood from one address. Per-account lockout (services/auth.py) is the control
that holds across processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from ketaclinic.domain.errors import KetaclinicError


class TooManyRequests(KetaclinicError):
    code = "too_many_requests"


class SlidingWindow:
    def __init__(self, limit: int, window_s: float, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count one attempt from ``client``; raise :class:`TooManyRequests` past the limit."""
        now = time.monotonic()
        with self._lock:
            if len(self._hits) >= self.max_clients and client not in self._hits:
                self._evict(now)
            hits = self._hits.setdefault(client, deque())
            while hits and now - hits[0] > self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = int(self.window_s - (now - hits[0])) + 1
                raise TooManyRequests(f"too many attempts from your address; try again in {wait} s")
            hits.append(now)

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or now - v[-1] > self.window_s]
        for key in stale:
            del self._hits[key]
        if len(self._hits) >= self.max_clients:
            self._hits.clear()

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


login_throttle = SlidingWindow(limit=20, window_s=60)
