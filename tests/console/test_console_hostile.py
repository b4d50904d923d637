"""Hostile input to the console: oversized, malformed or odd forms, cookies and parameters are 4xx pages
before any work, never a 500."""

from __future__ import annotations

import pytest

from tests.console.test_console_session import client, csrf_of, sign_in, token_for  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow


def test_hostile_forms_cookies_and_parameters_are_4xx_pages(client):  # noqa: F811 - the fixture
    login = client.get("/ui/login")
    csrf = csrf_of(login.text)
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post("/ui/login", content=b"token=" + b"a" * 70_000, headers=form).status_code == 413
    assert client.post("/ui/login", content="&".join(f"f{i}=x" for i in range(500)).encode(), headers=form).status_code == 400
    assert client.post("/ui/login", content=b"token=%ff%fe&csrf_token=x", headers=form).status_code == 400
    assert client.post("/ui/login", content=b'{"token": "x"}', headers={"content-type": "application/json"}).status_code == 415
    assert client.post("/ui/login", data={"token": "gov_" + "x" * 500, "csrf_token": csrf}).status_code == 422
    assert client.post("/ui/login", data={"token": "gov_\x00nul", "csrf_token": csrf}).status_code == 401
    client.cookies.set("govern_console", "x" * 5000, path="/ui")
    assert client.get("/ui/decisions", follow_redirects=False).status_code == 303
    client.cookies.clear()
    sign_in(client, token_for(client, "compliance", "audit"))
    for path in ("/ui/decisions?cursor=-1", "/ui/decisions?cursor=99999999999999999999999", "/ui/decisions?limit=0",
                 "/ui/decisions?since=9999-99-99", "/ui/decisions?team=" + "t" * 64, "/ui/decisions?rule=" + "R" * 81,
                 "/ui/decisions?outcome=maybe", "/ui/lineage?depth=999", "/ui/kpis?since=0001-01-01T00:00:00Z"):
        answer = client.get(path)
        assert 400 <= answer.status_code < 500 and "<html" in answer.text, (path, answer.status_code)
    assert client.post("/ui/logout", content=b"csrf_token=" + b"z" * 70_000, headers=form).status_code == 413


@pytest.mark.parametrize(("objective", "says"), [("a\x00b", "text with a NUL cannot be stored"), ("a\ud800b", "Input should be a valid string")])
def test_pilot_terms_the_form_parses_hold_no_text_the_pages_cannot_show(client, objective, says):  # noqa: F811 - the fixture
    """The form's terms are parsed by json.loads, not the service's strict parser: escaped NULs and lone
    surrogates reach the terms' own check, which refuses them."""
    import json
    from datetime import UTC, datetime

    from tests.console.test_procurement import PILOT, request_form, vendor

    buyer = token_for(client, "procurement", "procurement")
    vendor(client, buyer)
    sign_in(client, buyer)
    csrf = csrf_of(client.get("/ui/sandboxes/-/new").text)
    form = {**request_form(datetime.now(UTC).date()), "pilot": json.dumps({**PILOT, "objective": objective}), "csrf_token": csrf}
    refused = client.post("/ui/sandboxes/-/new", data=form)
    assert refused.status_code == 422 and f"pilot.objective: {says}" in refused.text
    assert client.get("/ui/sandboxes/SBX-UI-1").status_code == 404
