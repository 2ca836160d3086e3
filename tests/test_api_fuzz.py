"""The JSON API fuzzed from its own /openapi.json: valid and invalid requests alike never
get a 5xx, and every answer is one the spec documents (status, content type, schema).

The cases come from schemathesis's Hypothesis strategies run under ``@given``: its
pytest-fixture integration (``schemathesis.pytest.from_fixture``) does not run on pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from searcher.web.app import create_app
from tests.conftest import CORPUS

# The web layer over the embedded engine (its cluster reads are the CLI tests').
pytestmark = pytest.mark.engines("embedded")

PATHS = ["/api/search", "/api/articles/{article_id}", "/api/trend", "/api/stats"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_schema(seed_index):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(seed_index, CORPUS))


def test_the_spec_lists_every_endpoint(api_schema):
    assert sorted(op.ok().path for op in api_schema.get_all_operations()) == sorted(PATHS)


@pytest.mark.slow
@pytest.mark.parametrize(
    "path, mode",
    # /api/stats takes no parameter to get wrong: no negative cases.
    [(path, mode) for path in PATHS for mode in GenerationMode if path != "/api/stats" or mode.is_positive],
    ids=lambda x: x.value if isinstance(x, GenerationMode) else x,
)
def test_api_fuzzed_from_openapi_never_fails(api_schema, path, mode):
    operation = api_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()
