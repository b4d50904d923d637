"""Every refusal the service answers, documented in one place so that the OpenAPI document lists each status
an operation can return, with the body it really has.

Routes name the refusals that their own logic decides (`responses=refusals(403, 404)`); `document_refusals`
adds those that follow from the operation itself, and gives every refusal its JSON body: the limits on bodies
and headers (govern/api/bodies.py, govern/api/server.py) answer in FastAPI's field-error shape. The bodies'
models are in govern/api/schemas.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from govern.api.schemas import ErrorPublic, FieldProblem, InvalidRequest, InvalidSubmission, RequestField

WHY = {
    401: "No bearer token, or an unknown or revoked one.",
    403: "Not permitted by the authorization policy.",
    404: "No such resource.",
    409: "The request conflicts with the records (a duplicate, or a record in the wrong state).",
    413: "The request body is over the size limit (GOVERN_MAX_REQUEST_BYTES).",
    415: "The body has a Content-Encoding this operation does not accept.",
    422: "The request is invalid: field errors (a NUL byte, malformed JSON, a value out of bounds), or a sentence saying what is wrong.",
    429: "Too many requests of this kind; retry later.",
    431: "The request headers are over the size limit (GOVERN_MAX_HEADER_BYTES).",
    503: "The database or the policy engine is unavailable; nothing was recorded.",
}


BEFORE_ANY_ROUTE = {413, 415, 422, 431}
"""What the body and header limits answer any request (a body too large, an encoding, a NUL byte in the path or
query, malformed JSON, headers too large), in FastAPI's field-error shape."""

MODELS: tuple[type[BaseModel], ...] = (ErrorPublic, FieldProblem, InvalidSubmission, RequestField, InvalidRequest)


def refusals(*codes: int, models: dict[int, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each code with its reason and `ErrorPublic`, or the model (or union) `models` gives it."""
    return {code: {"model": (models or {}).get(code, ErrorPublic), "description": WHY[code]} for code in codes}


def document_refusals(app: FastAPI) -> None:
    """Make `app.openapi()` list, beside the refusals each route names, those its operation implies: a token
    (looked up in the database) brings 401 and 503; those refused before any route can meet any request."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in MODELS:
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(definition.pop("$defs", {}))
            components[model.__name__] = definition
        for operations in schema["paths"].values():
            for operation in operations.values():
                _document(operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(operation: dict[str, Any]) -> None:
    implied = set(BEFORE_ANY_ROUTE)
    if operation.get("security"):
        implied |= {401, 503}
    responses = operation["responses"]
    for code in sorted(implied):
        responses.setdefault(str(code), {"description": WHY[code]})
    for code, response in responses.items():
        if int(code) < 400:
            continue
        # Refusals are JSON whatever the operation streams when it succeeds.
        content = response.get("content", {})
        media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
        schema = _ref(InvalidRequest) if int(code) in BEFORE_ANY_ROUTE else media.get("schema") or _ref(ErrorPublic)
        response["content"] = {"application/json": {"schema": schema}}
    if "422" in responses:
        # FastAPI's field errors, a record error's sentence, or an invalid submission's problems.
        choices = [_ref(InvalidRequest), _ref(InvalidSubmission), _ref(ErrorPublic)]
        responses["422"] = {"description": WHY[422], "content": {"application/json": {"schema": {"anyOf": choices}}}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}
