"""The OpenAPI document matches the routes, and the app keeps to it under generated inputs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)


def test_every_api_rule_is_in_the_document_and_back(client: Any, app: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    routed = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routed == documented
    assert document["openapi"].startswith("3.")


def test_the_document_is_english_whatever_the_visitor_chose(client: Any) -> None:
    client.set_cookie("lang", "es_CL")
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/api/v1/regions"]["get"]["summary"] == "List the regions"


def fuzz(strategy: Any, examples: int = 20) -> list[int]:
    """Send the generated cases, check each answer; return their status codes."""
    statuses: list[int] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        statuses.append(response.status_code)

    run()
    return statuses


@pytest.mark.slow
def test_generated_requests_get_documented_answers(app: Any, world: Any) -> None:
    """Fuzz every operation twice: random ids (mostly 404), then ids of published records."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    known = {
        "round_id": world.visible["results"][0],
        "proposal_id": world.visible["proposal"][0],
        "municipality_id": world.visible["municipality"][0],
        "organization_id": world.visible["organization"][0],
        "fair_id": world.visible["fair"][0],
        "programme_id": world.visible["programme"][0],
        "project_id": world.visible["project"][0],
        "cut": "05",
    }
    total = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = [p.name for p in operation.path_parameters]
        strategies = [operation.as_strategy()]
        if names:
            strategies.append(operation.as_strategy(path_parameters={n: known[n] for n in names}))
        for strategy in strategies:
            statuses = fuzz(strategy)
            total += len(statuses)
            if names and strategy is strategies[-1]:
                assert 200 in statuses, operation.label
    assert total >= 300
