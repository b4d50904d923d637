"""Validating emitted OpenLineage events against the official spec and govern's facet schemas.

The spec's JSON Schemas are kept in `tests/schemas/openlineage-spec` (copied unchanged, Apache-2.0; its
SOURCE.md names the commit), so a clone validates events with nothing beside it; a copy beside the checkout
(`../shared/openlineage-spec`, as CI has) is used in its place when present.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from govern.lineage.facets import facet_schemas
from tests.conftest import ROOT

SPEC_DIR = ROOT.parent / "shared" / "openlineage-spec"
VENDORED_SPEC_DIR = ROOT / "tests" / "schemas" / "openlineage-spec"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def spec_dir() -> Path:
    """The OpenLineage spec's schemas: the copy beside the checkout, else the one kept with the tests."""
    return SPEC_DIR if SPEC_DIR.is_dir() else VENDORED_SPEC_DIR


@functools.cache
def registry() -> Registry:
    """Every spec schema and every govern facet schema, by `$id`: facets reference the core absolutely."""
    schemas = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(spec_dir().rglob("*.json"))]
    resources = [(schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
                 for schema in [*schemas, *facet_schemas().values()]]
    return Registry().with_resources(resources)


def validate(instance: Any, schema_url: str) -> None:
    """Validate against the schema a URL names, fragment (`#/$defs/X`) included; every error is listed."""
    try:
        registry().resolver().lookup(schema_url)
    except Unresolvable:
        raise AssertionError(f"no known schema at {schema_url!r}") from None
    validator = Draft202012Validator(
        {"$ref": schema_url}, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    assert not errors, f"invalid against {schema_url}:\n" + "\n".join(
        f"  at {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in errors
    )


def facets_of(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, facet) for every facet of the run, the job and each input and output dataset."""
    yield from (("run." + key, facet) for key, facet in event["run"].get("facets", {}).items())
    yield from (("job." + key, facet) for key, facet in event["job"].get("facets", {}).items())
    for side, dataset_facets in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for index, dataset in enumerate(event.get(side, [])):
            for group in ("facets", dataset_facets):
                for key, facet in dataset.get(group, {}).items():
                    yield f"{side}[{index}].{group}.{key}", facet


def validate_event(event: dict[str, Any]) -> None:
    """The whole event against the spec's RunEvent, then each facet against the schema its `_schemaURL` names."""
    validate(event, RUN_EVENT_SCHEMA)
    for where, facet in facets_of(event):
        schema_url = facet.get("_schemaURL")
        assert schema_url, f"{where} has no _schemaURL"
        try:
            validate(facet, schema_url)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None
