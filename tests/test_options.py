"""RouteOptions: a route's options, validated once, with the endpoint set decided there."""

from __future__ import annotations

import dataclasses

import pytest
from langchain_core.runnables import RunnableLambda

from langserve_like import APIHandler
from langserve_like.server.options import CORE_ENDPOINTS, RouteOptions


def test_options_enabled_endpoints_decide_the_endpoint_set() -> None:
    options = RouteOptions.create(enabled_endpoints=["invoke", "feedback"])
    assert options.endpoints == {"invoke", "feedback"}


def test_options_disabled_feedback_wins_over_a_sink() -> None:
    options = RouteOptions.create(
        disabled_endpoints=["feedback"], feedback_sink=lambda feedback: None
    )
    assert options.endpoints == CORE_ENDPOINTS - {"feedback"}
    assert options.feedback_sink is None


def test_options_are_frozen() -> None:
    options = RouteOptions.create(path="/joke/")
    assert options.path == "/joke"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.path = "/other"  # type: ignore[misc]


def test_options_refuse_unknown_keywords_by_name() -> None:
    with pytest.raises(TypeError, match="max_body"):
        RouteOptions.create(max_body=10)


def test_options_api_handler_takes_options_or_keywords_not_both() -> None:
    runnable = RunnableLambda(lambda x: x)
    handler = APIHandler(runnable, RouteOptions.create(path="/a", enabled_endpoints=["invoke"]))
    assert handler.endpoints == {"invoke"}
    assert APIHandler(runnable, path="/b", endpoints=["batch"]).endpoints == {"batch"}
    with pytest.raises(TypeError, match="not both"):
        APIHandler(runnable, RouteOptions.create(), path="/c")
