"""A run's final thread state, taken from what the run streamed: interrupts from
`interrupt_before`/`interrupt_after` and runs that asked for no `values` still
leave the thread as a checkpoint read would."""

from __future__ import annotations

from langgraph_sdk.client import SyncLangGraphClient


def test_final_state_interrupt_after_leaves_the_thread_interrupted(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    out = client.runs.wait(tid, "steps", input={"steps": []}, interrupt_after=["a"])
    assert out == {"steps": ["a"]}
    assert client.threads.get(tid)["status"] == "interrupted"
    assert client.threads.get_state(tid)["next"] == ["b"]
    assert client.runs.wait(tid, "steps", input=None) == {"steps": ["a", "b", "c"]}
    thread = client.threads.get(tid)
    assert (thread["status"], thread["values"]) == ("idle", {"steps": ["a", "b", "c"]})


def test_final_state_interrupt_before_leaves_the_thread_interrupted(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    client.runs.wait(tid, "echo", input={"messages": ["hi"]}, interrupt_before=["echo"])
    thread = client.threads.get(tid)
    assert (thread["status"], thread["values"]) == ("interrupted", {"messages": ["hi"]})
    assert client.threads.get_state(tid)["next"] == ["echo"]


def test_final_state_without_values_mode_still_records_the_values(
    client: SyncLangGraphClient,
) -> None:
    tid = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(tid, "echo", input={"messages": ["hi"]}, stream_mode="updates"))
    assert "values" not in {p.event for p in parts}
    assert [p.data for p in parts if p.event == "updates"] == [{"echo": {"messages": ["echo: hi"]}}]
    thread = client.threads.get(tid)
    assert (thread["status"], thread["values"]) == ("idle", {"messages": ["hi", "echo: hi"]})
