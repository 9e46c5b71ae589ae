"""The run queue's guarantees, checked on what the processes wrote down.

Every worker appends `kind run_id attempt pid monotonic thread_id` lines to the
audit file (`LSL_AUDIT`: `claim`, `finishing` just before a finish's transaction,
`finish_ok` or `finish_rejected` after it, `release`), and
every node of the `steps` graph appends `run_id node start|end pid monotonic` to
the worklog (`LSL_WORKLOG`). Monotonic time is the machine's, shared by all
processes. The invariants:

I1  every created run ends in exactly one terminal state (none pending or running
    after the drain, and no run finished by two attempts);
I2  at most one `finish_ok` per run, by its last claimed attempt, with no claim
    after it; attempt numbers are claimed once each and in order; a released
    attempt ended before the next one was claimed;
I3  never two runs of one thread running at once: the claim-to-finish intervals
    of different runs of a thread do not overlap;
I4  a node whose successor some earlier attempt had started (its super-step's
    checkpoint was then on disk) is not started again by a later attempt.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

NODES = ("a", "b", "c")
TERMINAL = ("success", "error", "timeout", "interrupted")


@dataclass(frozen=True)
class Entry:
    kind: str
    run_id: str
    attempt: int
    pid: int
    at: float
    thread_id: str | None


@dataclass(frozen=True)
class Work:
    run_id: str
    node: str
    what: str
    pid: int
    at: float


def read_audit(path: Path) -> list[Entry]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 6:
            kind, run_id, attempt, pid, at, thread = parts
            thread_id = None if thread == "-" else thread
            out.append(Entry(kind, run_id, int(attempt), int(pid), float(at), thread_id))
    return sorted(out, key=lambda e: e.at)


def read_worklog(path: Path) -> list[Work]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 5:
            out.append(Work(parts[0], parts[1], parts[2], int(parts[3]), float(parts[4])))
    return sorted(out, key=lambda w: w.at)


@dataclass
class Report:
    runs: int = 0
    claims: int = 0
    finish_ok: int = 0
    finish_rejected: int = 0
    releases: int = 0
    retried_runs: int = 0
    unlogged_finishes: int = 0  # committed, then the worker was killed (see _check_run)
    node_starts: int = 0
    reexecuted_nodes: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in vars(self).items())


def check(
    created: Iterable[str],
    final_status: Mapping[str, str],
    audit: list[Entry],
    work: list[Work],
) -> Report:
    """Assert I1-I4 for the runs `created`; `final_status` is each run's status
    read from the database after the drain. Returns what was counted."""
    created = list(created)
    by_run: dict[str, list[Entry]] = defaultdict(list)
    for entry in audit:
        by_run[entry.run_id].append(entry)
    report = Report(runs=len(created))
    for run_id in created:
        _check_run(run_id, final_status.get(run_id), by_run.get(run_id, []), report)
    _check_threads(audit)
    _check_resumes(audit, work, report)
    return report


def _check_run(run_id: str, status: str | None, entries: list[Entry], report: Report) -> None:
    assert status in TERMINAL, f"I1: run {run_id} is {status} after the drain"
    claims = [e for e in entries if e.kind == "claim"]
    oks = [e for e in entries if e.kind == "finish_ok"]
    report.claims += len(claims)
    report.finish_ok += len(oks)
    report.finish_rejected += sum(e.kind == "finish_rejected" for e in entries)
    report.releases += sum(e.kind == "release" for e in entries)
    report.retried_runs += len(claims) > 1
    assert len(oks) <= 1, f"I2: run {run_id} finished by attempts {[e.attempt for e in oks]}"
    attempts = [c.attempt for c in claims]  # in time order
    if status == "success" and not oks:
        # A worker SIGKILLed between its finish's commit and the line logging it
        # leaves the `finishing` line its last attempt wrote before the transaction,
        # and no outcome of that attempt.
        last = attempts[-1] if attempts else None
        ends = [e.kind for e in entries if e.attempt == last and e.kind != "claim"]
        assert ends == ["finishing"], f"I1: run {run_id} succeeded without a fenced finish"
        report.unlogged_finishes += 1
    assert attempts == sorted(set(attempts)), f"I2: run {run_id} claimed as {attempts}"
    if oks:
        ok = oks[0]
        assert ok.attempt == attempts[-1], f"I2: run {run_id} finished by a stale attempt"
        assert claims[-1].at < ok.at, f"I2: run {run_id} claimed again after its finish"
    claimed_at = {c.attempt: c.at for c in claims}
    for released in (e for e in entries if e.kind == "release"):
        later = claimed_at.get(released.attempt + 1)
        assert later is None or released.at < later, f"I2: run {run_id} overlapping attempts"


def _check_threads(audit: list[Entry]) -> None:
    """I3 on the attempts that ended through their worker (a killed or paused
    worker's attempt has no known end; its lease expired before the next claim)."""
    claims = {(e.run_id, e.attempt): e for e in audit if e.kind == "claim"}
    spans: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for end in audit:
        claim = claims.get((end.run_id, end.attempt))
        if end.kind in ("finish_ok", "release") and claim and claim.thread_id:
            spans[claim.thread_id].append((claim.at, end.at, end.run_id))
    for thread_id, intervals in spans.items():
        intervals.sort()
        for (_, end, run), (start, _, other) in zip(intervals, intervals[1:], strict=False):
            assert run == other or end < start, (
                f"I3: runs {run} and {other} of thread {thread_id} ran at the same time"
            )


def _attempt_of(claims: list[Entry], work: Work) -> int | None:
    """The attempt a node belongs to: its process's latest claim of the run before it."""
    mine = [c for c in claims if c.pid == work.pid and c.at <= work.at]
    return mine[-1].attempt if mine else None


def _check_resumes(audit: list[Entry], work: list[Work], report: Report) -> None:
    claims: dict[str, list[Entry]] = defaultdict(list)
    for entry in audit:
        if entry.kind == "claim":
            claims[entry.run_id].append(entry)
    starts = [w for w in work if w.what == "start"]
    report.node_starts += len(starts)
    report.reexecuted_nodes += sum(
        n - 1 for n in Counter((w.run_id, w.node) for w in starts).values()
    )
    by_run: dict[str, list[tuple[int | None, Work]]] = defaultdict(list)
    for w in starts:
        by_run[w.run_id].append((_attempt_of(claims[w.run_id], w), w))
    for run_id, attributed in by_run.items():
        for claim in claims[run_id]:
            # Successors another attempt had started before this attempt was claimed.
            started_before = {
                w.node
                for attempt, w in attributed
                if attempt is not None and attempt != claim.attempt and w.at < claim.at
            }
            for attempt, w in attributed:
                if attempt != claim.attempt or w.node not in NODES[:-1]:
                    continue
                successor = NODES[NODES.index(w.node) + 1]
                assert successor not in started_before, (
                    f"I4: run {run_id} attempt {attempt} re-ran {w.node}, completed before"
                )


def execution_order(audit: list[Entry]) -> dict[str, list[str]]:
    """Each thread's runs in the order of their first claims."""
    order: dict[str, list[str]] = defaultdict(list)
    for entry in audit:
        if entry.kind == "claim" and entry.thread_id and entry.run_id not in order[entry.thread_id]:
            order[entry.thread_id].append(entry.run_id)
    return dict(order)
