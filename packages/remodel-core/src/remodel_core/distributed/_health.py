"""Lost-rank detection: a heartbeat per rank in the rendezvous store, and a guard around collectives that
turns a timed-out or broken collective into an error naming the rank that stopped and its iteration."""

from __future__ import annotations

import contextlib
import datetime
import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import torch

from ._group import DEFAULT_TIMEOUT_S, beat_interval, check_timeout

__all__ = ["Heartbeat", "RankLostError"]

_RUNS = itertools.count()  # every rank starts its heartbeats in the same order: same key prefix on all ranks


class RankLostError(RuntimeError):
    """A peer rank died or stalled: raised on the surviving ranks instead of a hang or a raw socket error.

    Parameters
    ----------
    message : str
        The error message.
    ranks : list of int
        The ranks whose heartbeat stopped (empty when every rank still beats, i.e. one was merely too slow).
    iteration : int
        This rank's iteration when the collective failed.
    peer_iterations : dict of int to int
        The last iteration each rank reported.

    Examples
    --------
    >>> err = RankLostError("rank 1 stopped", ranks=[1], iteration=3, peer_iterations={0: 3, 1: 2})
    >>> err.ranks, err.iteration
    ([1], 3)
    """

    def __init__(self, message: str, *, ranks: list[int], iteration: int, peer_iterations: dict[int, int]) -> None:
        super().__init__(message)
        self.ranks = ranks
        self.iteration = iteration
        self.peer_iterations = peer_iterations


def _store_address() -> tuple[str, int]:
    try:
        return os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    except (KeyError, ValueError) as err:
        raise ValueError(
            "the heartbeat needs MASTER_ADDR and MASTER_PORT (set by torchrun) to reach the rendezvous store"
        ) from err


def _machine() -> str:
    """Who can signal whom: the kernel's boot id and this process's pid namespace (Linux), else the host
    name. Two ranks with the same value see each other's pids."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # pragma: no cover - not Linux
        return socket.gethostname().replace(" ", "_") or "?"


def _stopped(pid: int) -> bool:
    """True when ``pid`` is in the job-control stopped state (``T`` in ``/proc/PID/stat``: SIGSTOP/SIGTSTP)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def _client(timeout: float) -> torch.distributed.Store:
    host, port = _store_address()
    return torch.distributed.TCPStore(
        host, port, is_master=False, timeout=datetime.timedelta(seconds=timeout), wait_for_workers=False
    )


class Heartbeat:
    """Each rank writes ``(beat, iteration)`` into torchrun's rendezvous store every ``interval`` seconds
    from a daemon thread; a stopped (SIGSTOP) or killed process stops beating, a busy one does not (the
    thread runs while the main thread waits inside a collective, which releases the GIL).

    :meth:`guard` wraps collectives: when one fails (a gloo timeout after the group's
    :func:`~remodel_core.distributed.collective_timeout`, or a closed connection when a peer died), the
    beats of all ranks are read twice, ``2.5 * interval`` apart, and a :class:`RankLostError` names the
    ranks that did not beat and the iterations of everyone, within ``timeout`` of the stall.

    A lost rank found stopped (SIGSTOP, state ``T``) on this machine is resumed with SIGCONT before the
    error is raised: a stopped process ignores torchrun's SIGTERM, and torchrun's agent would wait its
    30 s shutdown grace before its SIGKILL; resumed, the worker is terminated by that SIGTERM (or fails its
    next collective) and the job ends at once. A rank stopped on another machine, or stopped by a tracer
    (state ``t``), is left alone (its agent's grace period applies). This is
    the heartbeat failure detector of Chandra & Toueg ("Unreliable failure detectors for reliable distributed
    systems", JACM 1996) in its simplest form; torch's ``monitored_barrier`` names a lost rank on rank 0 only.

    Parameters
    ----------
    rank, world : int
        This rank and the number of ranks.
    timeout : float
        The run's timeout (seconds): it shapes the message and the beat interval ``min(1, timeout / 10)``
        (:func:`~remodel_core.distributed.beat_interval`).

    Examples
    --------
    >>> hb = Heartbeat(0, 1)          # one rank: nothing to watch, no store needed
    >>> with hb.guard("all-reduce"):
    ...     pass
    >>> hb.close()
    """

    def __init__(self, rank: int, world: int, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.rank, self.world = int(rank), int(world)
        self.timeout = check_timeout(timeout)
        self.interval = beat_interval(self.timeout)
        self._me = f"{os.getpid()} {_machine()}"
        self.resumed: list[int] = []  # lost ranks this rank resumed with SIGCONT
        self._iteration = 0
        self._lock = threading.Lock()
        self.prefix = f"remodel/heartbeat/{next(_RUNS)}/"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.world > 1:
            self._store = _client(max(10.0, self.timeout))
            self._beat = 0
            self._write()
            self._thread = threading.Thread(target=self._run, name=f"remodel-heartbeat-{rank}", daemon=True)
            self._thread.start()

    @property
    def iteration(self) -> int:
        """The iteration this rank is working on; setting it also beats at once."""
        return self._iteration

    @iteration.setter
    def iteration(self, value: int) -> None:
        self._iteration = int(value)
        if self._thread is not None:
            try:
                self._write()
            except Exception:  # the store went away: the guard reports it at the next collective
                pass

    def _write(self) -> None:
        with self._lock:
            self._beat += 1
            self._store.set(f"{self.prefix}{self.rank}", f"{self._beat} {self._iteration} {self._me}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._write()
            except Exception:  # the store went away (its host died): the guard reports it
                return

    def close(self) -> None:
        """Stop beating (end of the run)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.interval + 1)

    def _read(self, store: torch.distributed.Store) -> dict[int, tuple[int, int, str]]:
        """Each rank's ``(beat, iteration, "pid machine")`` as last written."""
        out = {}
        for r in range(self.world):
            key = f"{self.prefix}{r}"
            if store.check([key]):
                beat, it, *where = store.get(key).decode().split(maxsplit=2)
                out[r] = (int(beat), int(it), where[0] if where else "")
        return out

    def diagnose(self) -> tuple[list[int], dict[int, int], str]:
        """The ranks that stopped beating, everyone's last iteration and a note when the store is gone.
        Lost ranks found stopped on this machine are resumed (SIGCONT) and listed in :attr:`resumed`."""
        try:
            store = _client(max(2.0, 3 * self.interval))
            first = self._read(store)
            time.sleep(2.5 * self.interval)
            second = self._read(store)
        except Exception as err:  # the store's host (torchrun's agent or rank 0) is gone or stopped
            host, port = _store_address()
            return [0], {}, f"the rendezvous store at {host}:{port} (hosted by rank 0's node) did not answer ({err})"
        lost = [r for r in range(self.world) if r != self.rank and (r not in second or second[r] == first.get(r))]
        self.resumed = [r for r in lost if r in second and self._resume(second[r][2])]
        return lost, {r: v[1] for r, v in second.items()}, ""

    def _resume(self, where: str) -> bool:
        """SIGCONT to a stopped rank process on this machine (``where`` = its ``"pid machine"``)."""
        pid, _, machine = where.partition(" ")
        if not pid.isdigit() or machine != self._me.partition(" ")[2] or int(pid) == os.getpid():
            return False
        if not _stopped(int(pid)):
            return False
        try:
            os.kill(int(pid), signal.SIGCONT)
        except OSError:  # pragma: no cover - gone meanwhile, or not ours
            return False
        return True

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run a collective; on failure raise :class:`RankLostError` naming the lost rank(s)."""
        try:
            yield
        except RankLostError:
            raise
        except RuntimeError as err:  # DistBackendError and gloo's timeouts/closed connections
            if self.world <= 1:
                raise
            lost, iterations, note = self.diagnose()
            cause = "timed out" if "imed out" in str(err) else "lost its connection"
            if note:
                who = note
            elif lost:
                who = ", ".join(f"rank {r} (last at iteration {iterations.get(r, '?')})" for r in lost)
                who = f"{who} stopped responding (no heartbeat for {2.5 * self.interval:.1f} s: killed or stopped)"
                if self.resumed:
                    who += (
                        f"; rank(s) {', '.join(map(str, self.resumed))} found stopped (SIGSTOP) on this machine "
                        "and resumed with SIGCONT, so that torchrun can terminate them"
                    )
            else:
                others = {r: it for r, it in iterations.items() if r != self.rank}
                slow = min(others, key=others.get) if others else None
                who = (
                    f"no rank lost its heartbeat; rank {slow} is the furthest behind (iteration "
                    f"{iterations.get(slow)}) and was slower than the timeout"
                    if slow is not None
                    else "no rank could be identified"
                )
            msg = (
                f"distributed run failed: {who}. Rank {self.rank} {cause} in {what} at iteration "
                f"{self.iteration} (collective timeout {self.timeout:g} s). Cause: {str(err).splitlines()[0][:200]}"
            )
            raise RankLostError(msg, ranks=lost, iteration=self.iteration, peer_iterations=iterations) from err
