"""The browser harness itself: Debian's Chromium renders a page of a real `govern serve` and keeps a screenshot
of it, tokens of each role work against that service, a page's script errors and CSP refusals fail its test, and
a missing browser is a failure where CI=true."""

from __future__ import annotations

import httpx
import pytest

from tests.console.conftest import DESKTOP, open_page, unavailable


def test_the_browser_renders_the_services_offline_api_docs(service, page, screenshot):
    from playwright.sync_api import expect

    page.goto(f"{service.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("govern")
    assert "Swagger UI" in page.title()
    assert screenshot(page, "docs").stat().st_size > 0


def test_a_token_of_each_role_is_minted_for_the_service(service):
    for role, team in (("submitter", "platform-qa"), ("procurement", "procurement"), ("compliance", "audit"), ("admin", "admin")):
        response = httpx.get(f"{service.url}/v1/sandboxes", headers={"Authorization": f"Bearer {service.token(role, team)}"})
        assert response.status_code == 200, role


@pytest.mark.parametrize(("html", "reported"), [
    ("<script>throw new Error('broken page')</script>", "broken page"),
    ("<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\"><script>1</script>", "Content Security Policy"),
])
def test_a_pages_script_error_or_csp_refusal_fails_its_test(browser, html, reported):
    pages = open_page(browser, DESKTOP)
    next(pages).set_content(html)
    with pytest.raises(AssertionError, match=reported):
        next(pages, None)


def test_a_missing_browser_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("no browser")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no browser"):
        unavailable("no browser")
