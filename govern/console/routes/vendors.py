"""`/ui/vendors`: the vendors on record with their data-processing agreement, regions and price model (a
stored price model the models refuse is shown as its problem); `/ui/vendors/edit`: procurement onboards or
updates one (`vendor.manage`), through PUT /v1/vendors/{name}'s own function."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from starlette.datastructures import ImmutableMultiDict

from govern.api.deps import ReadSessionDep, SessionDep, authorization, require
from govern.api.routes.procurement import get_vendors, put_vendor
from govern.console.deps import CheckedFormDep, ConsoleRoute, SignedInDep, field
from govern.console.forms import problems
from govern.console.params import Blank
from govern.console.templating import render
from govern.db.public import VendorPublic, VendorUpsert
from govern.policy.engines import PolicyEngine

router = APIRouter(prefix="/ui/vendors", route_class=ConsoleRoute)

PRICE_TERMS = ("per_task", "per_shot", "rate_per_second", "base_seconds", "seconds_per_shot")
MAX_REGIONS = 100
VendorQuery = Annotated[Annotated[str, Field(max_length=200)] | None, Blank, Query()]


@router.get("", include_in_schema=False)
def vendors(request: Request, signed_in: SignedInDep, session: ReadSessionDep, saved: VendorQuery = None) -> HTMLResponse:
    may_manage = authorization(request.app.state.engine, signed_in.token, "vendor.manage", {}).allow
    return render(request, "vendors.html", vendors=get_vendors(signed_in.token, session), may_manage=may_manage, saved=saved)


def _values(vendor: VendorPublic | None) -> dict[str, str]:
    """The edit form's fields for a vendor on record (or a blank one): every value as text."""
    if vendor is None:
        return {"name": "", "approved": "on", "data_processing_agreement": "", "regions": "", "model": "", **dict.fromkeys(PRICE_TERMS, "")}
    prices = vendor.price_model
    return {
        "name": vendor.name, "approved": "on" if vendor.approved else "", "regions": ", ".join(vendor.regions),
        "data_processing_agreement": "on" if vendor.data_processing_agreement else "",
        "model": prices.model if prices else "", **{term: str(getattr(prices, term)) if prices else "" for term in PRICE_TERMS},
    }


def _form(request: Request, values: dict[str, str], existing: VendorPublic | None, status_code: int = 200, problem: str = "") -> HTMLResponse:
    return render(request, "vendor.html", status_code, values=values, existing=existing, terms=PRICE_TERMS, problem=problem)


@router.get("/edit", include_in_schema=False)
def edit_form(request: Request, signed_in: SignedInDep, session: ReadSessionDep, name: VendorQuery = None) -> HTMLResponse:
    """The form for a new vendor, or for the vendor `name` as recorded."""
    engine: PolicyEngine = request.app.state.engine
    require(engine, signed_in.token, "vendor.manage", {})
    existing = next((vendor for vendor in get_vendors(signed_in.token, session) if vendor.name == name), None) if name else None
    if name and existing is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no vendor {name!r} on record")
    return _form(request, _values(existing), existing)


def _submitted(form: ImmutableMultiDict[str, str]) -> dict[str, str]:
    values = {name: field(form, name, max_length=200, required=False) for name in ("name", "model", *PRICE_TERMS)}
    values["regions"] = field(form, "regions", max_length=4000, required=False)
    values.update({box: "on" if form.get(box) else "" for box in ("approved", "data_processing_agreement")})
    return values


def _upsert(values: dict[str, str]) -> dict[str, Any]:
    """The body PUT /v1/vendors/{name} takes: no price model when every price field is blank."""
    priced = {term: values[term] for term in PRICE_TERMS if values[term]}
    if values["model"]:
        priced["model"] = values["model"]
    return {"approved": bool(values["approved"]), "data_processing_agreement": bool(values["data_processing_agreement"]),
            "regions": [region.strip() for region in values["regions"].split(",") if region.strip()], "price_model": priced or None}


@router.post("/edit", include_in_schema=False)
def save_vendor(request: Request, signed_in: SignedInDep, form: CheckedFormDep, session: SessionDep) -> Response:
    """Onboard or update a vendor as PUT /v1/vendors/{name} does; the form comes back with any refusal."""
    engine: PolicyEngine = request.app.state.engine
    require(engine, signed_in.token, "vendor.manage", {})
    values = _submitted(form)
    existing = next((vendor for vendor in get_vendors(signed_in.token, session) if vendor.name == values["name"]), None)
    body = _upsert(values)
    if not values["name"]:
        return _form(request, values, existing, status.HTTP_422_UNPROCESSABLE_CONTENT, "name: the vendor needs a name")
    if len(body["regions"]) > MAX_REGIONS:
        return _form(request, values, existing, status.HTTP_422_UNPROCESSABLE_CONTENT, f"regions: at most {MAX_REGIONS}")
    try:
        upsert = VendorUpsert.model_validate(body)
    except ValidationError as exc:
        return _form(request, values, existing, status.HTTP_422_UNPROCESSABLE_CONTENT, problems(exc))
    saved = put_vendor(values["name"], upsert, signed_in.token, engine, session)
    return RedirectResponse(f"/ui/vendors?saved={quote(saved.name, safe='')}", status.HTTP_303_SEE_OTHER)

