"""Serving from several processes that share one listening socket and one set of metrics.

A Python process serves about one core's worth of requests (its GIL), so `ingest --processes N`
runs N of them. The parent binds the socket and forks them: each inherits the socket, and the
kernel hands every connection to one of the processes accepting on it. Forking lets a process
start from what the parent has prepared (settings, socket, imported modules) and open and
close its own store around the server as a single process does. multiprocessing's spawn and
uvicorn's `Multiprocess` (which spawns) start fresh interpreters instead: the settings and the
socket pickled across, the app loaded from an import string, the store opened in its lifespan,
and, for uvicorn's, a health-check thread per process. The parent forks before it starts any
thread or event loop, so nothing a child inherits is held by a thread that the child lacks.

The parent only supervises. SIGTERM or SIGINT: every process is sent SIGTERM, answers its
requests in flight and closes its store, and the parent returns once all have ended. A process
that ends otherwise is logged and replaced; but when as many processes in a row as were asked
for end before they serve (the store cannot be opened, say), more would fail the same way, so
the others are stopped and `Failed` is raised.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

log = logging.getLogger(__name__)

#: What a process runs: it calls its argument once it serves, and returns its exit status.
Serve = Callable[[Callable[[], None]], int]

#: Blocked in the parent and taken one at a time by `sigwaitinfo`, so that they are handled
#: between the parent's steps (a fork, a reap), never in the middle of one.
_SIGNALS = {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM}
#: prctl's option for the signal a process gets when its parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


class Failed(Exception):
    """The processes kept ending before they served."""


@contextlib.contextmanager
def shared_metrics() -> Iterator[Path]:
    """prometheus_client's multiprocess mode while the block runs: every metric is kept in a
    file per process in a fresh directory (PROMETHEUS_MULTIPROC_DIR), which `/metrics` sums
    (see `ingest.metrics.exposed`), since a scrape reaches any one process.

    prometheus_client chooses where values live when it is first imported, so it must not be
    imported before the block: import the ingest app inside it.
    """
    if "prometheus_client.values" in sys.modules:
        raise RuntimeError(
            "prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set: its "
            "metrics would not be shared between processes"
        )
    with tempfile.TemporaryDirectory(prefix="intercom-destination-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        try:
            yield Path(directory)
        finally:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]


def supervise(count: int, serve: Serve, *, metrics: Path) -> None:
    """Runs `serve` in `count` forked processes, sharing the `metrics` directory of
    `shared_metrics`, until SIGTERM or SIGINT; returns once they have all ended.

    Raises `Failed` when `count` processes in a row end before they serve. The signals stay
    blocked when it returns: the caller is about to exit, and a second Ctrl-C should not
    interrupt its clean-up.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    _Supervisor(count, serve, metrics).run()


class _Supervisor:
    def __init__(self, count: int, serve: Serve, metrics: Path) -> None:
        self._count = count
        self._serve = serve
        self._metrics = metrics
        #: The running processes by pid, each with the pipe it writes to once it serves.
        self._children: dict[int, int] = {}
        #: Processes that ended before they served, since the last one that served.
        self._failed_starts = 0
        self._stopping = False
        self._failure: str | None = None

    def run(self) -> None:
        for _ in range(self._count):
            self._start()
        while self._children:
            if signal.sigwaitinfo(_SIGNALS).si_signo == signal.SIGCHLD:
                self._reap()
            elif not self._stopping:
                self._stop()
        if self._failure:
            raise Failed(self._failure)

    def _start(self) -> None:
        ready, announce = os.pipe()
        # Else what the parent has buffered would be written again by the child.
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            _child(self._serve, announce, parent)
        os.close(announce)
        self._children[pid] = ready

    def _reap(self) -> None:
        # SIGCHLDs that arrive together are taken as one: look at every process.
        ended = 0
        for pid in list(self._children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                continue
            served = _served(self._children.pop(pid))
            # Its gauges are dropped; what it counted stays in the sums.
            _mark_process_dead(pid, self._metrics)
            if self._stopping:
                continue
            ended += 1
            self._failed_starts = 0 if served else self._failed_starts + 1
            fields = {"pid": pid, "status": _describe(status), "served": served}
            log.warning("a process ended unexpectedly", extra={"fields": fields})
        if self._stopping or not ended:
            return
        if self._failed_starts >= self._count:
            self._failure = (
                f"{self._failed_starts} processes in a row ended before they served; "
                "see their errors above"
            )
            self._stop()
            return
        for _ in range(ended):
            self._start()

    def _stop(self) -> None:
        self._stopping = True
        for pid in self._children:
            os.kill(pid, signal.SIGTERM)


def _child(serve: Serve, announce: int, parent: int) -> NoReturn:
    """Runs `serve` in a forked process, then ends it: nothing may return or unwind from
    here into the code that the parent runs."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        if sys.platform == "linux":
            # A parent killed outright (SIGKILL, the OOM killer) takes its processes with it,
            # instead of leaving them to serve unsupervised.
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # A parent that ended before the prctl will not send it: then serve nothing.
        if os.getppid() == parent:
            code = serve(lambda: _announce(announce))
    except BaseException:
        log.exception("the process failed")
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _announce(announce: int) -> None:
    os.write(announce, b"1")
    os.close(announce)


def _served(ready: int) -> bool:
    """Whether the process, now ended, wrote to its pipe that it served (else the pipe is
    closed empty: only that process had its other end)."""
    try:
        return os.read(ready, 1) != b""
    finally:
        os.close(ready)


def _describe(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"


def _mark_process_dead(pid: int, metrics: Path) -> None:
    # Imported only now, after `shared_metrics` has set PROMETHEUS_MULTIPROC_DIR.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(metrics))  # type: ignore[no-untyped-call]
