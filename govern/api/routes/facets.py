"""The JSON Schemas of govern's custom OpenLineage facets, served where their `$id`s point."""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from govern.api.refusals import refusals
from govern.lineage.facets import facet_schemas

router = APIRouter(tags=["lineage"])


@router.get(
    "/spec/facets/{version}/{name}.json",
    responses={200: {"content": {"application/schema+json": {"schema": {"type": "object"}}}}, **refusals(404)},
)
def facet_schema(version: str, name: str, request: Request) -> JSONResponse:
    """The JSON Schema of one of govern's custom OpenLineage facets, served at the path of its `$id`."""
    schema = {urlparse(schema_id).path: schema for schema_id, schema in facet_schemas().items()}.get(request.url.path)
    if schema is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facet schema {version}/{name}.json")
    return JSONResponse(schema, media_type="application/schema+json")
