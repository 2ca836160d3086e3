"""The cluster fixtures for the tests in this folder. Tests elsewhere get them with
``pytest_plugins = ["tests.cluster.fixture"]`` in tests/conftest.py."""

from tests.cluster.fixture import (  # noqa: F401 (fixtures)
    opensearch_client,
    opensearch_cluster,
    opensearch_index,
    opensearch_url,
    pytest_configure,
)
