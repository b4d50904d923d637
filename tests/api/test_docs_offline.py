"""`/docs` and `/redoc` work on a network without the internet: every asset they load comes from the service."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.settings import Settings

BASE = "http://testserver"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    database = tmp_path_factory.mktemp("docs") / "govern.db"
    with TestClient(create_app(Settings(database_url=f"sqlite:///{database}", migrate_on_start=True)), base_url=BASE) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_load_only_same_origin_assets(client, page):
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']|spec-url=["']([^"']+)["']""", html.text)
    urls = [next(part for part in found if part) for found in references]
    assert any(url.endswith(".js") for url in urls), html.text
    for url in urls:
        absolute = urljoin(BASE + page, url)
        assert urlsplit(absolute).netloc == "testserver", f"{page} loads {url} from another origin"
        asset = client.get(absolute)
        assert asset.status_code == 200 and asset.content, url
    assert "cdn.jsdelivr.net" not in html.text and "fonts.googleapis.com" not in html.text
