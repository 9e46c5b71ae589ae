"""Queue semantics through the LangGraph SDK: multitask strategies, cancel,
interrupts, FIFO per thread, idempotent creates, replay after Last-Event-ID."""

from __future__ import annotations

import concurrent.futures
import time
import uuid

import httpx
import pytest
from langgraph_sdk.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError


def _started(client: SyncLangGraphClient, tid: str, rid: str) -> None:
    """Returns once the run is executing: its first event (`metadata`) exists."""
    for part in client.runs.join_stream(tid, rid, last_event_id="0"):
        assert part.event == "metadata"
        return


def test_interrupt_then_resume_with_command(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    out = client.runs.wait(tid, "approve", input={"request": "deploy"})
    assert out["__interrupt__"][0]["value"] == {"question": "approve deploy?"}
    thread = client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert list(thread["interrupts"].values())[0][0]["value"]["question"] == "approve deploy?"
    assert client.threads.get_state(tid)["next"] == ["ask"]
    done = client.runs.wait(tid, "approve", command={"resume": "yes"})
    assert done == {"request": "deploy", "answer": "yes"}
    assert client.threads.get(tid)["status"] == "idle"


def test_multitask_reject_is_409_while_a_run_is_in_flight(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    later = client.runs.create(tid, "echo", input={"messages": ["x"]}, after_seconds=600)
    with pytest.raises(ConflictError):
        client.runs.create(tid, "echo", input={"messages": ["y"]}, multitask_strategy="reject")
    client.runs.cancel(tid, later["run_id"], wait=True)
    assert client.runs.get(tid, later["run_id"])["status"] == "interrupted"
    ok = client.runs.create(tid, "echo", input={"messages": ["z"]}, multitask_strategy="reject")
    assert client.runs.join(tid, ok["run_id"]) == {"messages": ["z", "echo: z"]}


def test_enqueue_runs_one_at_a_time_in_creation_order(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    runs = [client.runs.create(tid, "echo", input={"messages": [f"m{i}"]}) for i in range(6)]
    final = client.runs.join(tid, runs[-1]["run_id"])
    expected = [x for i in range(6) for x in (f"m{i}", f"echo: m{i}")]
    assert final == {"messages": expected}
    assert {client.runs.get(tid, r["run_id"])["status"] for r in runs} == {"success"}


def test_cancel_a_running_run_interrupts_it(client: SyncLangGraphClient) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "slow", input={"messages": ["x"]})
    _started(client, tid, run["run_id"])
    assert client.runs.get(tid, run["run_id"])["status"] == "running"
    assert client.threads.get(tid)["status"] == "busy"
    client.runs.cancel(tid, run["run_id"], wait=True)
    assert client.runs.get(tid, run["run_id"])["status"] == "interrupted"
    assert client.threads.get(tid)["status"] != "busy"


def test_multitask_interrupt_stops_the_running_run_and_starts_the_new(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    first = client.runs.create(tid, "slow", input={"messages": ["x"]})
    _started(client, tid, first["run_id"])
    second = client.runs.create(
        tid, "echo", input={"messages": ["y"]}, multitask_strategy="interrupt"
    )
    out = client.runs.join(tid, second["run_id"])
    assert out["messages"][-2:] == ["y", "echo: y"]
    assert client.runs.get(tid, first["run_id"])["status"] == "interrupted"


def test_multitask_rollback_deletes_the_running_run_and_its_checkpoints(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    first = client.runs.create(tid, "slow", input={"messages": ["gone"]})
    _started(client, tid, first["run_id"])
    second = client.runs.create(
        tid, "echo", input={"messages": ["kept"]}, multitask_strategy="rollback"
    )
    assert client.runs.join(tid, second["run_id"]) == {"messages": ["kept", "echo: kept"]}
    with pytest.raises(NotFoundError):
        client.runs.get(tid, first["run_id"])
    history = client.threads.get_history(tid, limit=100)
    assert all(h["metadata"].get("run_id") != first["run_id"] for h in history)


def test_idempotency_key_returns_the_same_run_on_concurrent_retries(
    client: SyncLangGraphClient, server: str
) -> None:
    tid = client.threads.create()["thread_id"]
    key = str(uuid.uuid4())
    body = {"assistant_id": "echo", "input": {"messages": ["once"]}}

    def post(_: int) -> str:
        with httpx.Client(base_url=server) as http:
            response = http.post(
                f"/threads/{tid}/runs", json=body, headers={"Idempotency-Key": key}
            )
            response.raise_for_status()
            return str(response.json()["run_id"])

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(post, range(10)))
    assert len(ids) == 1
    client.runs.join(tid, ids.pop())
    assert len(client.runs.list(tid)) == 1


def test_if_not_exists_create_makes_the_thread(client: SyncLangGraphClient) -> None:
    tid = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        client.runs.create(tid, "echo", input={"messages": ["a"]})
    run = client.runs.create(tid, "echo", input={"messages": ["a"]}, if_not_exists="create")
    assert client.runs.join(tid, run["run_id"]) == {"messages": ["a", "echo: a"]}


def test_last_event_id_rejoin_gets_exactly_the_events_after_it(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            tid, "steps", input={"steps": []}, stream_mode=["values", "updates", "debug"]
        )
    )
    ids = [int(p.id) for p in parts]
    assert ids == list(range(1, len(parts) + 1))
    assert parts[-1].event == "end"
    run_id = parts[0].data["run_id"]
    for cut in (0, 1, len(parts) // 2, len(parts) - 1):
        again = list(client.runs.join_stream(tid, run_id, last_event_id=str(cut)))
        assert [(p.id, p.event, p.data) for p in again] == [
            (p.id, p.event, p.data) for p in parts[cut:]
        ]


def test_join_stream_filters_modes_given_as_a_json_array(
    client: SyncLangGraphClient, server: str
) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "steps", input={"steps": []}, stream_mode=["values", "updates"])
    client.runs.join(tid, run["run_id"])
    with httpx.Client(base_url=server) as http:
        text = http.get(
            f"/threads/{tid}/runs/{run['run_id']}/stream",
            params={"stream_mode": '["updates"]'},
            headers={"Last-Event-ID": "0"},
        ).text
    events = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert events == ["metadata", "updates", "updates", "updates", "end"]


def test_stream_on_disconnect_cancel_interrupts_the_run(
    client: SyncLangGraphClient, server: str
) -> None:
    tid = client.threads.create()["thread_id"]
    body = {"assistant_id": "slow", "input": {"messages": ["x"]}, "on_disconnect": "cancel"}
    with (
        httpx.Client(base_url=server) as http,
        http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as response,
    ):
        run_url = response.headers["Content-Location"]
        for line in response.iter_lines():
            if line.startswith("event: metadata"):
                break
    run_id = run_url.rsplit("/", 1)[1]
    client.runs.join(tid, run_id)
    assert client.runs.get(tid, run_id)["status"] == "interrupted"


def test_reconnect_storm_leaves_no_subscription_behind(
    client: SyncLangGraphClient, server: str
) -> None:
    tid = client.threads.create()["thread_id"]
    run = client.runs.create(tid, "slow", input={"messages": ["x"]})
    _started(client, tid, run["run_id"])
    url = f"/threads/{tid}/runs/{run['run_id']}/stream"
    with httpx.Client(base_url=server) as http:
        before = http.get("/ok").json()["services"]["process"]
        for _ in range(200):
            with http.stream("GET", url, headers={"Last-Event-ID": "0"}) as response:
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        break
        client.runs.cancel(tid, run["run_id"], wait=True)
        # The engine reports what it still holds; the server notices the last
        # client's departure on its own schedule, so wait for it (bounded).
        deadline = time.monotonic() + 10
        live = http.get("/ok").json()["services"]["streams"]
        while live != {"channels": 0, "subscribers": 0} and time.monotonic() < deadline:
            live = http.get("/ok").json()["services"]["streams"]
        after = http.get("/ok").json()["services"]["process"]
    assert live == {"channels": 0, "subscribers": 0}
    # The run's own task has ended; nothing of the 200 visits stayed behind.
    assert after["tasks"] <= before["tasks"]
    assert after["open_files"] <= before["open_files"] + 2
    parts = list(client.runs.join_stream(tid, run["run_id"], last_event_id="0"))
    assert [p.event for p in parts][0] == "metadata"
    assert parts[-1].event == "end"
