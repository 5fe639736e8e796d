"""SQLite connections that each live on a thread of their own, so the event loop never blocks.

A `Writer` group-commits: it takes every job that is queued (up to `MAX_ROWS` rows), runs
them in one transaction, commits once, and only then settles the jobs' futures. A durable
commit costs a disk flush, so sharing it is what makes many small writes cheap. Consecutive
batch jobs (enqueues) are merged into one call of its batcher's `append`, which writes them
in one statement. A call job that fails must leave no trace while the others sharing its
transaction go on: a job that writes only rows (`call(..., rows_only=True)`) runs as it is, and
SQLite's count of changed rows tells whether one that failed had written any (which is rare:
its own checks fail before it writes); if it had, the transaction is rolled back and run again
with each call job in a savepoint, as every other job always is. The batcher's statement needs
none, as SQLite undoes a statement that fails. What the jobs leave to the end of the
transaction (`Deferred`: the outcomes they recorded) is written before it commits. When only
batch jobs are queued, their statement is the whole transaction, with no BEGIN and COMMIT
around it: the sqlite3 module lets go of the GIL around every statement and the event loop may
keep it for up to the interpreter's switch interval (5 ms), so each statement can cost the
writer that wait, which inside a transaction it spends holding the database's write lock.
Between transactions, when its `Upkeep` says so, the writer runs it in a transaction of its own
(the store sorts its arrivals into lanes there). A transaction starts with `BEGIN IMMEDIATE`,
which takes the database's write lock.
A writer whose work can wait may run at a lower priority (`nice`), so that when the cores are
short they go to the threads that answer callers first.

A commit flushes the log to disk (`synchronous = FULL`) if one of its jobs is `durable`, as
jobs are unless they say otherwise, or it appends arrivals or runs upkeep. Jobs that are not
durable record delivery's progress (leases, outcomes, what Intercom holds): a power cut that
undoes their commit undoes every later commit too (the log's frames are checksummed in sequence), so
the store is as it was a moment earlier and that work is done again, and Intercom ignores an
event sent twice. Without the flush a commit costs a third less CPU. A crash of the process
loses nothing either way.

A `Reader` runs each job in its own read transaction on a second connection; in WAL mode it
sees every committed write and never waits for the writer.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from intercom_destination.store.base import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")

Job = Callable[[sqlite3.Connection], Any]
#: Rows a writer puts in one transaction at most: enough to amortise the flush, few enough
#: that no caller waits long behind others.
MAX_ROWS = 2000
#: Seconds before upkeep that failed (the disk is full, say) is tried again.
UPKEEP_RETRY = 1.0

_Settled = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _Call:
    __slots__ = ("durable", "fn", "future", "rows_only")
    size = 1

    def __init__(
        self, fn: Job, future: asyncio.Future[Any], *, rows_only: bool, durable: bool
    ) -> None:
        self.fn = fn
        self.future = future
        self.rows_only = rows_only
        self.durable = durable


class _Batch:
    __slots__ = ("future", "items", "size")
    #: Arrivals: a client's answer waits for them to be on disk.
    durable = True

    def __init__(self, items: Sequence[Any], future: asyncio.Future[Any]) -> None:
        self.items = items
        self.future = future
        self.size = len(items)


class _Stop:
    size = 0


_Task = _Call | _Batch | _Stop


class Batcher(Protocol[Item, Result]):
    """What a `Writer` does with batch jobs."""

    def append(self, connection: sqlite3.Connection, items: list[Item]) -> list[Result]:
        """One result per item, the items written in the writer's transaction, or with no
        transaction open when no other job shares it.

        Its writes must be one statement: the writer runs it in no savepoint, as SQLite undoes
        a statement that fails, and outside a transaction SQLite commits the statement.
        """

    def rolled_back(self) -> None:
        """A transaction of the writer was rolled back: forget what was written in it."""


class Deferred(Protocol):
    """Writes the call jobs of a `Writer`'s transaction leave to its end, made together."""

    def job_ended(self, *, kept: bool) -> None:
        """The call job that just ran is kept, or its work undone."""

    def write(self, connection: sqlite3.Connection) -> None:
        """Write what the kept jobs left; the transaction commits next."""

    def rolled_back(self) -> None:
        """A transaction of the writer was rolled back: forget what its jobs left."""


class _Halfway(Exception):
    """A call job run without a savepoint failed after it had written rows."""


class Upkeep(Protocol):
    """Work a `Writer` runs between the callers' transactions, each time in one of its own."""

    def upkeep_in(self) -> float:
        """Seconds until `upkeep` is due (0 or less: now)."""

    def upkeep(self, connection: sqlite3.Connection) -> object:
        """One transaction's work."""

    def rolled_back(self) -> None:
        """A transaction of the writer was rolled back: forget what was read in it."""


class _Thread(abc.ABC):
    def __init__(self, connection: sqlite3.Connection, name: str, *, nice: int = 0) -> None:
        self._connection = connection
        self._nice = nice
        self._queue: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._stopped: asyncio.Future[None] = self._loop.create_future()
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    async def call(
        self,
        fn: Callable[[sqlite3.Connection], T],
        *,
        rows_only: bool = False,
        durable: bool = True,
    ) -> T:
        """`fn(connection)`'s result, run on this thread. `rows_only`: its writes are only
        INSERT, UPDATE and DELETE statements; not `durable`: a power cut may undo them once
        committed (see the module's docstring)."""
        future = self._loop.create_future()
        self._put(_Call(fn, future, rows_only=rows_only, durable=durable))
        return cast(T, await future)

    async def stop(self) -> None:
        """Run the jobs queued so far, then close the connection."""
        if not self._stopping:
            self._stopping = True
            self._queue.put(_Stop())
        await asyncio.shield(self._stopped)

    def _put(self, task: _Call | _Batch) -> None:
        if self._stopping:
            raise StoreError("the store is closed")
        self._queue.put(task)

    def _main(self) -> None:
        _show_name(self._thread.name)
        if self._nice:
            _lower_priority(self._nice)
        stopping = False
        while not stopping:
            tasks: list[_Call | _Batch] = []
            try:
                task = self._queue.get(timeout=self._idle_for())
            except queue.Empty:
                self._between()
                continue
            rows = 0
            while True:
                if isinstance(task, _Stop):
                    stopping = True
                    break
                tasks.append(task)
                rows += task.size
                if rows >= MAX_ROWS:
                    break
                try:
                    task = self._queue.get_nowait()
                except queue.Empty:
                    break
            if tasks:
                self._notify(_settle_all, self._run(tasks))
            self._between()
        self._connection.close()
        self._notify(_resolve, self._stopped)

    @abc.abstractmethod
    def _run(self, tasks: list[_Call | _Batch]) -> list[_Settled]:
        """Each task's future with its result or error, once the tasks' work is committed."""

    @abc.abstractmethod
    def _idle_for(self) -> float | None:
        """How long to wait for a job before `_between` is due; None: as long as it takes."""

    @abc.abstractmethod
    def _between(self) -> None:
        """Run between transactions, and when `_idle_for` passed without a job."""

    def _notify(self, fn: Callable[[T], None], argument: T) -> None:
        # A closed loop has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, argument)


class Reader(_Thread):
    def _run(self, tasks: list[_Call | _Batch]) -> list[_Settled]:
        settled: list[_Settled] = []
        for task in tasks:
            assert isinstance(task, _Call)
            try:
                self._connection.execute("BEGIN")
                try:
                    settled.append((task.future, task.fn(self._connection), None))
                finally:
                    self._connection.execute("COMMIT")
            except Exception as error:
                settled.append((task.future, None, error))
        return settled

    def _idle_for(self) -> None:
        return None  # a reader has no upkeep

    def _between(self) -> None:
        pass


class Writer(_Thread, Generic[Item, Result]):
    def __init__(
        self,
        connection: sqlite3.Connection,
        name: str,
        *,
        batcher: Batcher[Item, Result] | None = None,
        upkeep: Upkeep | None = None,
        deferred: Deferred | None = None,
        nice: int = 0,
    ) -> None:
        # Set before the thread starts, which asks them when upkeep is due.
        self._batcher = batcher
        self._upkeep = upkeep
        self._deferred = deferred
        #: No upkeep before this time (monotonic seconds), after upkeep failed.
        self._upkeep_after = 0.0
        #: Whether commits flush the log (`synchronous = FULL`, as the store opens it).
        self._durable = True
        super().__init__(connection, name, nice=nice)

    async def batch(self, items: Sequence[Item]) -> list[Result]:
        """One result per item from the batcher, sharing its call with other batches."""
        future = self._loop.create_future()
        self._put(_Batch(items, future))
        return cast(list[Result], await future)

    def _run(self, tasks: list[_Call | _Batch]) -> list[_Settled]:
        self._commit_durably(any(task.durable for task in tasks))
        if all(isinstance(task, _Batch) for task in tasks):
            # The batcher's one write is a transaction of its own (see `Batcher.append`):
            # the writer holds the database's write lock only while SQLite runs it.
            return self._attempt_batches(cast(list[_Batch], tasks))
        try:
            return self._transaction(tasks, savepoints=False)
        except _Halfway:
            self._roll_back()
            return self._transaction(tasks, savepoints=True)

    def _transaction(self, tasks: list[_Call | _Batch], *, savepoints: bool) -> list[_Settled]:
        """Run the tasks in one transaction, each call job in a savepoint if `savepoints`
        or it may write more than rows; _Halfway if one without failed after writing."""
        connection = self._connection
        settled: list[_Settled] = []
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            start = 0
            while start < len(tasks):
                task = tasks[start]
                if isinstance(task, _Call):
                    settled.append(self._attempt(task, savepoint=savepoints or not task.rows_only))
                    start += 1
                    continue
                end = start + 1
                while end < len(tasks) and isinstance(tasks[end], _Batch):
                    end += 1
                settled.extend(self._attempt_batches(cast(list[_Batch], tasks[start:end])))
                start = end
            if self._deferred is not None:
                self._deferred.write(connection)
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            # BEGIN, the deferred writes or COMMIT failed (the disk is full, another process
            # holds the lock past the busy timeout), or SQLite rolled the transaction back:
            # nothing of it happened.
            self._roll_back()
            return [(task.future, None, error) for task in tasks]
        return settled

    def _idle_for(self) -> float | None:
        if self._upkeep is None:
            return None
        return max(0.0, self._upkeep.upkeep_in(), self._upkeep_after - time.monotonic())

    def _between(self) -> None:
        upkeep = self._upkeep
        if upkeep is None or upkeep.upkeep_in() > 0 or time.monotonic() < self._upkeep_after:
            return
        connection = self._connection
        self._commit_durably(True)
        try:
            self._connection.execute("BEGIN IMMEDIATE")
            upkeep.upkeep(connection)
            connection.execute("COMMIT")
        except Exception:
            # The callers' transactions go on meanwhile.
            log.exception("the store's upkeep failed; it is tried again in %g s", UPKEEP_RETRY)
            self._upkeep_after = time.monotonic() + UPKEEP_RETRY
            self._roll_back()

    def _commit_durably(self, durable: bool) -> None:
        """Have the next commit flush the log to disk if `durable` (see the module's
        docstring); the setting stays until changed, so it is sent only when it changes."""
        if durable != self._durable:
            level = "FULL" if durable else "NORMAL"
            self._connection.execute(f"PRAGMA synchronous = {level}")
            self._durable = durable

    def _roll_back(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")
        for party in (self._batcher, self._upkeep, self._deferred):
            if party is not None:
                party.rolled_back()

    def _attempt(self, call: _Call, *, savepoint: bool) -> _Settled:
        if savepoint:
            result, error = self._in_savepoint(call.fn)
        else:
            result, error = self._as_is(call.fn)
        if self._deferred is not None:
            self._deferred.job_ended(kept=error is None)
        return (call.future, result, error)

    def _as_is(self, fn: Job) -> tuple[Any, Exception | None]:
        """Run a job that writes only rows with no savepoint; _Halfway if it failed after
        writing some (SQLite undoes the statement that failed, not the job's earlier ones)."""
        connection = self._connection
        changes = connection.total_changes
        try:
            return fn(connection), None
        except Exception as error:
            if not connection.in_transaction:
                raise  # SQLite rolled the whole transaction back (the disk is full, say)
            if connection.total_changes != changes:
                raise _Halfway from error
            return None, error

    def _attempt_batches(self, batches: list[_Batch]) -> list[_Settled]:
        assert self._batcher is not None, "this writer takes no batches"
        items = list(chain.from_iterable(batch.items for batch in batches))
        in_transaction = self._connection.in_transaction
        try:
            # No savepoint: an append that fails wrote nothing (see `Batcher.append`).
            results = self._batcher.append(self._connection, items)
        except Exception as error:
            if in_transaction and not self._connection.in_transaction:
                raise  # SQLite rolled the whole transaction back (the disk is full, say)
            if len(batches) == 1:
                return [(batches[0].future, None, error)]
            # One caller's bad batch must not fail the others': run each on its own.
            return [settled for batch in batches for settled in self._attempt_batches([batch])]
        settled: list[_Settled] = []
        start = 0
        for batch in batches:
            settled.append((batch.future, results[start : start + batch.size], None))
            start += batch.size
        return settled

    def _in_savepoint(self, fn: Job) -> tuple[Any, Exception | None]:
        # A job that fails leaves no trace, and the jobs sharing its transaction go on.
        connection = self._connection
        connection.execute("SAVEPOINT job")
        try:
            result = fn(connection)
        except Exception as error:
            connection.execute("ROLLBACK TO job")
            connection.execute("RELEASE job")
            return None, error
        connection.execute("RELEASE job")
        return result, None


def _show_name(name: str) -> None:
    """Give the calling thread `name` where the OS shows it (Linux: `top -H`, /proc), so that
    a profile or a benchmark can tell the store's threads apart (15 characters at most)."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's scheduling priority by `nice` (Linux gives each thread its
    own; elsewhere the thread keeps the process's)."""
    if sys.platform == "linux":
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)


def _settle_all(settled: list[_Settled]) -> None:
    for future, result, error in settled:
        if future.done():
            continue  # its caller was cancelled; the work is done all the same
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
