"""The cluster's write lock: one searcher process writes an index at a time.

OpenSearch has no lock of its own, so the lock is a document: ``<name>`` in the hidden
index ``searcher-locks``, created with ``op_type=create`` (only one creation succeeds)
and holding a **lease**: who holds it (host, pid, a random owner id) and until when. The
holder renews the lease every ``LEASE_S / 3`` s from a background thread, each renewal
conditional on the document being the one it last wrote (``if_seq_no`` and
``if_primary_term``); releasing deletes it the same way. A writer that finds the lock
held waits up to ``WAIT_S`` s (as a second writer of an embedded index waits for the
first), then gives up with a message naming the holder. A holder that died without
releasing (SIGKILL, a machine lost) stops renewing; once its lease has run out, the next
writer takes the lock over, again conditionally, so two waiters cannot both take it. A
holder of the same machine and pid namespace whose process is gone (its pid unused, or
used by a process started at another time) is taken over at once.

A lease is judged by the waiter's clock against the holder's: the machines' clocks must
agree to within a few seconds (NTP), as for any lease. A holder that cannot renew in time
(the cluster unreachable for a whole lease) counts its lock as lost, and the write stops
before its commit (``check``, which renews once more to be sure): whatever it sent is
finished by the next sync, as after a crash.

Why the lock matters beyond tidiness: a rebuild writes a new concrete index that no name
points at yet, and every write starts by deleting such leftovers of interrupted rebuilds;
without the lock, a ``searcher add`` during a rebuild would delete the rebuild's index.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from searcher.errors import SearcherError

INDEX = "searcher-locks"
MARK = "searcher_write_locks"  # in the lock index's _meta: it is ours
LEASE_S = 30.0  # a holder that stops renewing loses the lock after this long
WAIT_S = 10.0  # a second writer waits this long for the first (the embedded engine's LOCK_TIMEOUT)
POLL_S = 0.5
CONFLICT, MISSING, EXISTS = object(), object(), object()  # a 409, a 404, an index made already


class WriteLock:
    """The write lock of one index name (reentrant within the process that holds it).
    ``on_acquire`` is called each time it is taken (the engine forgets what it read of
    the index before: another writer may have committed meanwhile)."""

    def __init__(self, engine, lease_s: float | None = None, wait_s: float | None = None, on_acquire=None):
        self.engine = engine  # the OpenSearchEngine: client, names, messages
        self.name = engine.index
        self.lease_s = LEASE_S if lease_s is None else lease_s
        self.wait_s = WAIT_S if wait_s is None else wait_s
        self.on_acquire = on_acquire
        self.owner = uuid.uuid4().hex
        self.depth = 0
        self._version: tuple[int, int] | None = None  # (seq_no, primary_term) of our document
        self._renewed = 0.0  # monotonic time at which the last renewal that landed was sent
        self._since = 0.0  # when we took it (wall clock, for the message of a writer waiting)
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    # -- taking and giving back ------------------------------------------------------

    def __enter__(self) -> "WriteLock":
        if self.depth == 0:
            self._acquire()
            try:
                if self.on_acquire is not None:
                    self.on_acquire()
            except BaseException:
                self._release()
                raise
        self.depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self.depth -= 1
        if self.depth == 0:
            self._release()

    def _body(self) -> dict:
        now = time.time()
        return {
            "owner": self.owner,
            "host": socket.gethostname(),
            "boot": _boot_id(),
            "pidns": _pid_namespace(),
            "pid": os.getpid(),
            "started": _started(os.getpid()),
            "since": self._since,
            "renewed": now,
            "expires": now + self.lease_s,
        }

    def _acquire(self) -> None:
        self._ensure_index()
        self._lost = None
        self._since = time.time()
        deadline = time.monotonic() + self.wait_s
        source: dict = {}
        while True:
            sent = time.monotonic()
            answer = self._call("index", index=INDEX, id=self.name, body=self._body(), op_type="create")
            if answer is not CONFLICT and answer is not MISSING:
                break
            held = self._read() if answer is CONFLICT else None
            if held is not None:
                source, version = held
                if float(source.get("expires") or 0) < time.time() or _dead_here(source):
                    # The holder stopped renewing a whole lease ago, or is a process of
                    # this machine that is gone (killed): take the lock over, if nobody
                    # else did since we read it.
                    sent = time.monotonic()
                    answer = self._call(
                        "index", index=INDEX, id=self.name, body=self._body(),
                        if_seq_no=version[0], if_primary_term=version[1],
                    )
                    if answer is not CONFLICT and answer is not MISSING:
                        break
            if time.monotonic() >= deadline:
                raise SearcherError(self._busy_message(source))
            if held is None:
                # Released between our two requests, or the lock index was removed:
                # make sure it is there, and try again after a moment.
                self._ensure_index()
            time.sleep(min(POLL_S, max(0.01, deadline - time.monotonic())))
        self._version = (answer["_seq_no"], answer["_primary_term"])
        self._renewed = sent
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="searcher-lock-lease", daemon=True)
        self._thread.start()

    def _release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._mutex:
            version, self._version = self._version, None
        if version is None or self._lost:
            return
        try:
            # CONFLICT or MISSING: taken over (our lease had run out) or gone, nothing of ours
            self._call("delete", index=INDEX, id=self.name, if_seq_no=version[0], if_primary_term=version[1])
        except SearcherError:
            pass  # the cluster is unreachable: the lease runs out by itself

    # -- the lease ---------------------------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            self.renew()

    def renew(self) -> None:
        """Extend the lease, conditionally on our document being the last one written
        (called every third of the lease by the background thread, and by ``check``).
        The lease counts from when the renewal was sent, not when its answer came."""
        with self._mutex:
            if self._version is None or self._lost:
                return
            seq_no, term = self._version
            sent = time.monotonic()
            try:
                answer = self._call(
                    "index", index=INDEX, id=self.name, body=self._body(), if_seq_no=seq_no, if_primary_term=term
                )
            except SearcherError:  # unreachable for now: try again at the next renewal
                if time.monotonic() - self._renewed > self.lease_s:
                    self._lost = f"it could not be renewed for {self.lease_s:.0f} s"
                return
            if answer is CONFLICT or answer is MISSING:
                self._lost = "another searcher process took it over"
                return
            self._version = (answer["_seq_no"], answer["_primary_term"])
            self._renewed = sent

    def check(self) -> None:
        """``SearcherError`` unless we still hold the lock, asked of the cluster now (a
        renewal: after a pause, a suspend or a lapsed lease another writer may have
        taken it); called before committing."""
        self.renew()
        with self._mutex:
            if self._version is not None and not self._lost and time.monotonic() - self._renewed > self.lease_s:
                self._lost = f"it could not be renewed for {self.lease_s:.0f} s"
            lost = self._lost
        if lost:
            raise SearcherError(
                f"the write lock of the index {self.name!r} on the OpenSearch cluster at {self.engine.where} "
                f"was lost ({lost}): nothing was committed; run the command again"
            )

    # -- the cluster -------------------------------------------------------------------

    def _call(self, method: str, **kwargs):
        """``client.<method>(…)``; ``CONFLICT`` or ``MISSING`` for a 409 or 404, any other
        failure as ``SearcherError``."""
        from opensearchpy import exceptions as ex

        from searcher.engine.opensearch import client as c

        target = self.engine.client
        for part in method.split("."):
            target = getattr(target, part)
        try:
            with c.translated(self.engine.where, INDEX, self.engine.timeout):
                try:
                    return target(**kwargs)
                except ex.ConflictError:
                    return CONFLICT
                except ex.NotFoundError:
                    return MISSING
                except ex.RequestError as exc:
                    if "resource_already_exists" in str(exc.error):
                        return EXISTS
                    raise
        except SearcherError as exc:
            if "(403)" in str(exc):  # say which index the privilege is missing on
                raise SearcherError(
                    f"{exc} (searcher's write-lock index {INDEX!r}, which every writer creates, reads and writes)"
                ) from None
            raise

    def _ensure_index(self) -> None:
        """Make the lock index if there is none; refuse an index of that name that is not
        searcher's lock index (a lock document must never land in someone's data). One
        that the cluster made by itself (``action.auto_create_index``: a lock document
        written just after the index was removed) holds lock documents only: adopted."""
        found = self._call("indices.get_mapping", index=INDEX)
        if found is MISSING:
            body = {
                "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "hidden": True}},
                "mappings": {"dynamic": False, "properties": {}, "_meta": {MARK: 1}},
            }
            try:
                self._call("indices.create", index=INDEX, body=body)  # EXISTS: another writer made it first
            except SearcherError as exc:
                raise SearcherError(f"cannot make the write-lock index {INDEX!r}: {exc}") from None
            return
        metas = [((body.get("mappings") or {}).get("_meta") or {}) for body in found.values()]
        if len(metas) == 1 and MARK in metas[0]:
            return
        others = {"bool": {"must_not": [{"exists": {"field": "owner"}}]}}
        if len(metas) == 1 and self._call("count", index=INDEX, body={"query": others})["count"] == 0:
            self._call("indices.put_mapping", index=INDEX, body={"_meta": {MARK: 1}})
            return
        raise SearcherError(
            f"the index {INDEX!r} on the OpenSearch cluster at {self.engine.where} is not searcher's "
            "write-lock index, which searcher needs that name for: rename or remove it"
        )

    def _read(self) -> tuple[dict, tuple[int, int]] | None:
        found = self._call("get", index=INDEX, id=self.name)
        if found is MISSING:
            return None
        return found.get("_source") or {}, (found["_seq_no"], found["_primary_term"])

    def _busy_message(self, source: dict) -> str:
        if source:
            since = source.get("since")
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(since))) if since else "?"
            left = max(0.0, float(source.get("expires") or 0) - time.time())
            who = f"pid {source.get('pid', '?')} on {source.get('host', '?')}, since {started}; "
            lapse = f" (if that process is gone, its lock lapses in {left:.0f} s)"
        else:
            who, lapse = "", ""
        return (
            f"the index {self.name!r} on the OpenSearch cluster at {self.engine.where} is being updated by "
            f"another searcher process ({who}waited {self.wait_s:.0f} s): try again when it has finished{lapse}"
        )


# -- a holder on this machine ------------------------------------------------------------


def _boot_id() -> str | None:
    """This machine's boot id (Linux): the host name alone may be shared."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; Linux), to tell it from a
    later process that got the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:
        return int(stat[stat.rindex(b")") + 2 :].split()[19])  # field 22, after the command
    except (ValueError, IndexError):
        return None


def _pid_namespace() -> int | None:
    """This process's pid namespace (Linux): containers sharing a host name and boot id
    have pids of their own."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


def _dead_here(source: dict) -> bool:
    """Whether the lock's holder is a process of this machine and pid namespace that no
    longer runs: killed, so its lease need not be waited out. A pid that runs (or that we
    may not signal) is alive unless it started at another time than the holder (reused).
    Anywhere else, or without /proc, only the lease tells."""
    boot = _boot_id()
    if boot is None or source.get("boot") != boot or source.get("host") != socket.gethostname():
        return False
    namespace = _pid_namespace()
    if namespace is None or source.get("pidns") != namespace:
        return False
    pid, started = source.get("pid"), source.get("started")
    if not isinstance(pid, int) or pid <= 0 or started is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # EPERM: someone else's process, running
    now = _started(pid)
    return now is not None and now != started  # the pid is another process's now
