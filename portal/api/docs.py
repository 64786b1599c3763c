"""The OpenAPI document and the reference page rendered from it on the server."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from portal.api.http import json_response
from portal.api.spec import openapi_document, operation


def _server_url() -> str:
    return request.url_root.rstrip("/") or "/"


@operation(
    "/openapi.json",
    tag="meta",
    summary=_l("This API's OpenAPI 3 description"),
    response={"type": "object", "required": ["openapi", "info", "paths"]},
)
def openapi() -> Response:
    """Serve the OpenAPI document (in English, whatever the visitor's language)."""
    with force_locale("en"):
        return json_response(openapi_document(_server_url()))


def _type_of(schema: dict[str, Any]) -> str:
    """Write a schema's type in a few characters: `integer`, `Round[]`, `string | null`."""
    if "$ref" in schema:
        text = schema["$ref"].rsplit("/", 1)[1]
    elif schema.get("type") == "array":
        text = _type_of(schema.get("items", {})) + "[]"
    elif "enum" in schema:
        text = " | ".join(schema["enum"])
    else:
        text = str(schema.get("type", "any"))
        if schema.get("format"):
            text += f" ({schema['format']})"
    if schema.get("nullable"):
        text += " | null"
    return text


def _response_type(op: dict[str, Any]) -> str:
    content = op["responses"]["200"].get("content", {})
    media, body = next(iter(content.items()))
    schema = body.get("schema") or {}
    return _type_of(schema) if schema else media


@operation(
    "/docs",
    tag="meta",
    summary=_l("This reference page"),
    media_type="text/html",
)
def reference() -> str:
    """Render the reference of every operation and schema, in the visitor's language."""
    document = openapi_document(_server_url())
    groups: dict[str, list[dict[str, Any]]] = {tag["name"]: [] for tag in document["tags"]}
    for path, item in document["paths"].items():
        op = item["get"]
        groups[op["tags"][0]].append(
            {
                "path": path,
                "summary": op["summary"],
                "description": op["description"],
                "parameters": [{**p, "type": _type_of(p["schema"])} for p in op["parameters"]],
                "returns": _response_type(op),
                "statuses": list(op["responses"]),
            }
        )
    schemas = {
        name: [
            {"name": key, "type": _type_of(value), "description": value.get("description", "")}
            for key, value in schema.get("properties", {}).items()
        ]
        for name, schema in document["components"]["schemas"].items()
        if not name.endswith("Page") and name != "Error"
    }
    return render_template(
        "api/reference.html",
        document=document,
        tags=document["tags"],
        groups=groups,
        schemas=schemas,
        openapi_url=url_for("api.openapi"),
    )
