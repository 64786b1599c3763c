"""A small registry of API operations, and the OpenAPI 3 document built from it.

Each view is registered through `operation()`, which adds the URL rule to the blueprint and
records its summary, parameters and response schema; `openapi_document()` walks that record,
so the document cannot describe a route that does not exist, nor miss one that does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.api import bp
from portal.api import schemas as s

MAX_ID = 2_147_483_647
# Flask converter of every id in a path: no zero, nothing larger than an INTEGER column.
ID = f"int(min=1, max={MAX_ID})"
RULE_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass(frozen=True)
class Param:
    """A query parameter of an operation."""

    name: str
    description: Any
    schema: dict[str, Any]


@dataclass
class Operation:
    """A GET operation of the API: its rule, its words for people and its response."""

    rule: str
    endpoint: str
    tag: str
    summary: Any
    description: Any
    params: tuple[Param, ...]
    response: dict[str, Any] | None
    media_type: str
    path_descriptions: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """Return the OpenAPI path template of the rule."""
        return bp.url_prefix + RULE_ARG.sub(lambda m: "{" + m.group(2) + "}", self.rule)  # type: ignore[operator]

    def path_params(self) -> list[tuple[str, str]]:
        """Return each path argument with its converter."""
        return [(m.group(2), m.group(1) or "string") for m in RULE_ARG.finditer(self.rule)]


OPERATIONS: list[Operation] = []

PAGE = Param("page", _l("Page number, from 1."), {"type": "integer", "minimum": 1, "default": 1})
PER_PAGE = Param(
    "per_page",
    _l("Items per page (at most 100)."),
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
)


def operation(
    rule: str,
    *,
    tag: str,
    summary: Any,
    description: Any = "",
    params: tuple[Param, ...] = (),
    response: dict[str, Any] | None = None,
    paginated: bool = False,
    media_type: str = "application/json",
    path_descriptions: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a GET view on the API blueprint and describe it for the document."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, view.__name__, view, methods=["GET"])
        OPERATIONS.append(
            Operation(
                rule=rule,
                endpoint=f"{bp.name}.{view.__name__}",
                tag=tag,
                summary=summary,
                description=description,
                params=(*params, PAGE, PER_PAGE) if paginated else params,
                response=response,
                media_type=media_type,
                path_descriptions=path_descriptions or {},
            )
        )
        return view

    return decorate


def _path_schema(converter: str) -> dict[str, Any]:
    if converter == "int":
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[^/]+$"}


def _error(description: Any) -> dict[str, Any]:
    return {
        "description": str(description),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation_object(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": str(op.path_descriptions.get(name, _l("Identifier."))),
            "schema": _path_schema(converter),
        }
        for name, converter in op.path_params()
    ]
    parameters += [
        {"name": p.name, "in": "query", "required": False, "description": str(p.description)}
        | {"schema": p.schema}
        for p in op.params
    ]
    if op.media_type == "application/json":
        ok_headers = {
            "ETag": {"description": str(_l("Tag of this version")), "schema": {"type": "string"}},
            "Last-Modified": {
                "description": str(_l("When the data last changed")),
                "schema": {"type": "string"},
            },
        }
        ok: dict[str, Any] = {
            "description": str(_l("The data.")),
            "headers": ok_headers,
            "content": {"application/json": {"schema": op.response or {"type": "object"}}},
        }
    else:
        ok = {"description": str(_l("The page.")), "content": {op.media_type: {"schema": {}}}}
    responses: dict[str, Any] = {"200": ok}
    if op.media_type == "application/json":
        responses["304"] = {"description": str(_l("Not modified since the version you have."))}
    responses["400"] = _error(_l("A parameter is not valid."))
    if op.path_params():
        responses["404"] = _error(_l("Not found, or not published."))
    responses["429"] = _error(_l("Too many requests: wait and try again."))
    return {
        "operationId": op.endpoint.split(".", 1)[1],
        "tags": [op.tag],
        "summary": str(op.summary),
        "description": str(op.description),
        "parameters": parameters,
        "responses": responses,
    }


TAGS = [
    ("geography", _l("Regions and municipalities.")),
    ("budgeting", _l("Participatory budgeting rounds, proposals and published results.")),
    ("projects", _l("Funded projects and the programmes that co-finance them.")),
    ("economy", _l("Verified social-economy organizations and street fairs.")),
    ("meta", _l("This description and its reference page.")),
]


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    """Build the OpenAPI 3.0 document of every registered operation."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})["get"] = _operation_object(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Portal open data API",
            "version": "1.0.0",
            "description": str(
                _l(
                    "Read-only public data of participatory budgeting, the social-economy "
                    "registry and funded projects. Only published data: no unpublished rounds or "
                    "results, no voter or census records, no personal emails or RUTs. Money is "
                    "in whole Chilean pesos; times are ISO 8601 with their offset."
                )
            ),
            "license": {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": name, "description": str(text)} for name, text in TAGS],
        "paths": paths,
        "components": {"schemas": s.COMPONENTS},
    }
