"""Schema fuzzing: schemathesis generates requests from the app's own /openapi.json
(valid ones and, in negative mode, invalid ones) for every operation of a zoo of
route shapes, and checks every response: no 5xx, documented status codes, content
types and bodies (each SSE event included) that match the documented schemas,
valid requests accepted and invalid ones rejected.

Bounded for CI: `FUZZ_EXAMPLES` examples per operation and mode (default 6) with a
fixed seed; `FUZZ_SEED=random` and a larger `FUZZ_EXAMPLES` explore further.
"""

from __future__ import annotations

import os
import random
import re
from typing import Any

import lzstring
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.reliability_apps import fuzz_app

SEED = os.environ.get("FUZZ_SEED", "20261122")
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": random.randrange(2**32) if SEED == "random" else int(SEED),
        # Examples and fuzzing; the coverage phase enumerates thousands of boundary
        # cases per operation, too slow for CI, and there is no state to explore.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"mode": "all", "max-examples": int(os.environ.get("FUZZ_EXAMPLES", "6"))},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=CONFIG)

_LZ = lzstring.LZString()
# Share-link hashes the routes accept; a random string in a path segment is not one.
VALID_HASHES = {
    "/configurable": [
        _LZ.compressToEncodedURIComponent('{"configurable": {"greeting": "bye"}}'),
        _LZ.compressToEncodedURIComponent('{"configurable": {}}'),
    ],
}
EMPTY_HASH = _LZ.compressToEncodedURIComponent("{}")
# 422s for schema-valid requests that the document cannot rule out, by the text
# that identifies them in the answer:
KNOWN_REFUSALS = (
    # langchain-core's message classes refuse some values their own JSON schema
    # allows (their validators raise TypeError): a 422, not a 500.
    "Input could not be validated",
    # The JSON parser (orjson) reads integers beyond 64 bits as floats, which an
    # `int` input then refuses; JSON Schema's "integer" has no such bound.
    "int_parsing_size",
)
# The runnable's input is validated in pydantic's lax mode, as LangServe did ("41"
# and true are the integers 41 and 1; langchain-core's ToolMessage turns any content
# into a string), so a request whose only schema violation is inside `input` or
# `inputs` may rightly succeed. The envelope around it is checked strictly.
INPUT_POINTER = re.compile(r"^/properties/inputs?(/|$)")


def _mutates_only_input(case: Any) -> bool:
    mutations = getattr(getattr(case.meta, "phase", None), "data", None)
    pointers = [m.schema_pointer for m in getattr(mutations, "mutations", ())]
    return bool(pointers) and all(INPUT_POINTER.match(p) for p in pointers)


def _valid_hash(path: str) -> str:
    route = path.split("/c/", 1)[0]
    return str(random.Random(path).choice(VALID_HASHES.get(route, [EMPTY_HASH])))


@pytest.mark.filterwarnings("ignore::DeprecationWarning:hypothesis")
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
def test_openapi_fuzz_operation_conforms(case: Any) -> None:
    path_parameters = case.path_parameters or {}
    if "config_hash" in path_parameters and not case.meta.is_negative_at(ParameterLocation.PATH):
        case.path_parameters = {**path_parameters, "config_hash": _valid_hash(case.path)}
    body = case.body
    if (
        isinstance(body, dict)
        and isinstance(body.get("inputs"), list)
        and isinstance(body.get("config"), list)
        and not case.meta.is_negative_at(ParameterLocation.BODY)
    ):
        # One config per input: a rule of /batch that JSON Schema cannot state.
        configs, count = body["config"] or [{}], len(body["inputs"])
        case.body = {**body, "config": (configs * count)[:count]}
    response = case.call()
    excluded = []
    if response.status_code == 422 and any(known in response.text for known in KNOWN_REFUSALS):
        excluded.append(positive_data_acceptance)
    if _mutates_only_input(case):
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
