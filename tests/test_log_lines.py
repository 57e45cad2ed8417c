"""Live log lines (issue 11): a step's command output lands in the event log line by line, while it runs, as
`step.log` events of `<run id>/<step id>/log` (activities/log_lines.py) — in order, per attempt, capped, and never
at the cost of the step."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from activities import log_lines
from activities.log_lines import SEQ_PER_ATTEMPT, StepLog, first_seq, resource_id
from core.events.contracts import EntityRecord
from core.events.store import list_events
from tests.support import cmd, start, step_of, wait_for_run, wait_for_step

PURE = pytest.mark.database("sqlite", reason="the batching logic, with a writer of our own: no database")


def _lines(run_id: str, step_id: str) -> list:
    return list_events(resource_id(run_id, step_id))


async def test_a_step_s_lines_are_recorded_in_order_while_it_runs(api: httpx.AsyncClient) -> None:
    script = "for i in 1 2 3 4 5; do echo out $i; done; echo oops >&2; printf 'no newline'; sleep 30"
    run_id = await start(api, {"name": "log lines", "steps": [cmd("talk", script)]})
    await wait_for_step(api, run_id, "talk", lambda s: s["status"] == "running")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(events := _lines(run_id, "talk")) < 6:  # before the step ends: live
        assert loop.time() < deadline, f"lines never arrived: {events}"
        await asyncio.sleep(0.05)
    stdout = [e.data["line"] for e in events if e.data["stream"] == "stdout"]
    assert stdout == [f"out {i}" for i in range(1, 6)]  # the unterminated last line waits for the end
    assert [e.data for e in events if e.data["stream"] == "stderr"] == [
        {"step": "talk", "stream": "stderr", "line": "oops", "attempt": 1}]
    assert {e.type for e in events} == {"step.log"}
    assert [e.seq for e in events] == list(range(first_seq(1), first_seq(1) + 6))

    assert (await api.post(f"/api/v2/runs/{run_id}/cancel")).status_code == 202
    await wait_for_run(api, run_id)
    events = _lines(run_id, "talk")
    assert events[-1].data["line"] == "no newline" and events[-1].seq == first_seq(1) + 6


async def test_each_attempt_numbers_its_own_lines(api: httpx.AsyncClient) -> None:
    script = "if [ -e tried ]; then echo second; else touch tried; echo first; exit 3; fi"
    run = await wait_for_run(api, await start(api, {"name": "retried lines", "steps": [
        cmd("flaky", script, retry={"maxAttempts": 2, "backoff": {"initial": 0.05}})]}))
    assert run["status"] == "succeeded" and step_of(run, "flaky")["attempts"] == 2
    events = _lines(run["id"], "flaky")
    assert [(e.seq, e.data["line"], e.data["attempt"]) for e in events] == [
        (SEQ_PER_ATTEMPT + 1, "first", 1), (2 * SEQ_PER_ATTEMPT + 1, "second", 2)]


async def test_a_silent_step_writes_nothing(api: httpx.AsyncClient) -> None:
    run = await wait_for_run(api, await start(api, {"name": "silent", "steps": [cmd("quiet", ["true"])]}))
    assert run["status"] == "succeeded"
    assert _lines(run["id"], "quiet") == []


# ---- the batching, with a writer that keeps what it is given ---------------------------------------------------


class Kept:
    def __init__(self, fail: bool = False) -> None:
        self.requests: list[EntityRecord] = []
        self.fail = fail

    def __call__(self, request: EntityRecord) -> None:
        if self.fail:
            raise OSError("database down")
        self.requests.append(request)

    @property
    def data(self) -> list[dict]:
        return [e.data for r in self.requests for e in r.events]

    @property
    def seqs(self) -> list[int]:
        return [e.seq for r in self.requests for e in r.events]


@PURE
async def test_lines_are_split_across_chunks_and_batched() -> None:
    kept = Kept()
    log = StepLog("run-a", "s", 1, writer=kept)
    log.feed(1, b"hel")
    log.feed(1, b"lo\r\nwor")
    log.feed(2, b"err\n")
    log.feed(1, b"ld\n" + b"".join(b"n%d\n" % i for i in range(250)))
    await log.close()
    lines = [d["line"] for d in kept.data]
    assert lines[:3] == ["hello", "err", "world"] and lines[3:] == [f"n{i}" for i in range(250)]
    assert kept.seqs == list(range(first_seq(1), first_seq(1) + 253))
    assert 1 <= len(kept.requests) <= 3  # batched, not one write per line
    assert all(r.id == "run-a/s/log" and r.snapshot == {} and r.seq == r.events[-1].seq for r in kept.requests)


@PURE
async def test_nothing_printed_costs_nothing() -> None:
    kept = Kept()
    log = StepLog("run-b", "s", 1, writer=kept)
    log.feed(1, b"")
    await log.close()
    assert kept.requests == [] and log._pump is None


@PURE
async def test_capped_per_step_with_one_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_lines, "MAX_LINES", 5)
    kept = Kept()
    log = StepLog("run-c", "s", 2, writer=kept)
    log.feed(1, b"".join(b"line %d\n" % i for i in range(100)))
    log.feed(2, b"more\n")
    await log.close()
    assert [d["line"] for d in kept.data[:5]] == [f"line {i}" for i in range(5)]
    assert len(kept.data) == 6 and kept.data[-1]["truncated"] is True and kept.data[-1]["attempt"] == 2
    assert kept.seqs[-1] == 2 * SEQ_PER_ATTEMPT + 6


@PURE
async def test_long_lines_are_cut_and_nul_replaced() -> None:
    kept = Kept()
    log = StepLog("run-d", "s", 1, writer=kept)
    log.feed(1, b"x" * 3000)
    log.feed(1, b"y" * 3000 + b"\nshort\0line\n")
    await log.close()
    first, second = kept.data
    assert first["line"] == "x" * 3000 + "y" * 1096 and first["cut"] is True
    assert second == {"step": "s", "stream": "stdout", "line": "short\ufffdline", "attempt": 1}


@PURE
async def test_a_second_command_of_the_same_attempt_continues_the_numbering() -> None:
    kept = Kept()
    for word in (b"deploy\n", b"rollback\n"):  # a deploy step runs its rollback command as the same step
        log = StepLog("run-e", "s", 1, writer=kept)
        log.feed(1, word)
        await log.close()
    assert kept.seqs == [first_seq(1), first_seq(1) + 1]


@PURE
async def test_a_failing_write_never_fails_the_step() -> None:
    log = StepLog("run-f", "s", 1, writer=Kept(fail=True))
    log.feed(1, b"a\nb\n")
    await log.close()
    assert log.failed_writes == 1
