"""Generated input against the OpenAPI schema (schemathesis strategies, run with Hypothesis): no
request, however odd, gets a 5xx, and the service still answers afterwards."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from twinforge.app import ServeSettings, Workspace
from twinforge.examples import examples_dir
from twinforge.server import create_app


@pytest.mark.timeout(600)
def test_generated_requests_never_get_a_server_error(tmp_path):
    ws = Workspace(
        ServeSettings(twins=[str(examples_dir())], workspace=str(tmp_path / "ws")),
        store=str(tmp_path / "s.duckdb"),
    )
    app = create_app(ws)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 25
        errors: list[str] = []
        for op in operations:
            if (op.method.lower(), op.path) == ("post", "/api/keys"):
                continue  # a generated key would turn authentication on for the rest of the run
            _fuzz(op, errors)
        assert not errors, "\n".join(errors[:10])
        with TestClient(app) as c:
            assert c.get("/api/health").json()["status"] == "ok"
    finally:
        ws.close()


def _fuzz(op, errors: list[str]) -> None:
    @given(op.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call()
        if response.status_code >= 500:
            errors.append(
                f"{op.method.upper()} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )

    check()
