"""In the browser: compliance finds a dataset, opens its lineage graph, selects nodes by keyboard and by
clicking the graph, reads a run's facets, follows it to its decision and verifies the record; a result's
"everything upstream" reloads the graph upstream; the graph holds at a phone's width."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from govern.audit.checkpoint import generate_key
from tests.api.test_api import example
from tests.console.conftest import Service, sign_in
from tests.live_service import running_service, wait_for

RUN = "job:govern.platform-qa:bell-calibration"
BASELINES = "dataset:s3://qa-data:baselines/bell"
RESULTS = "dataset:govern.platform-qa:bell-calibration/results"


@pytest.fixture
def lineage_service(tmp_path):
    """`govern serve --with-worker` with an audit signing key, after platform-qa's Bell experiment ran on Aer
    and its lineage (START, RUNNING, COMPLETE) reached the service's own store."""
    key = tmp_path / "audit.pem"
    generate_key(key)
    database_url = f"sqlite:///{tmp_path / 'govern.db'}"
    env = {"GOVERN_AUDIT_SIGNING_KEY": str(key), "GOVERN_LINEAGE_POLL_S": "0.2", "GOVERN_WORKER_POLL_S": "0.2"}
    with running_service(database_url, env=env, args=("--with-worker",)) as url:
        service = Service(url, database_url)
        manifest, circuit = example("bell-local")
        answer = httpx.post(f"{url}/v1/submissions", json={"manifest": manifest, "circuit": circuit},
                            headers={"Authorization": f"Bearer {service.token('submitter', 'platform-qa')}"}, timeout=30)
        assert answer.status_code == 201, answer.text
        reader = {"Authorization": f"Bearer {service.token('compliance', 'audit', 'reader')}"}

        def completed() -> bool:
            graph = httpx.get(f"{url}/api/v1/lineage", params={"nodeId": RUN, "depth": 0}, headers=reader, timeout=10)
            return graph.status_code == 200 and (graph.json()["graph"][0]["data"]["latestRun"] or {}).get("state") == "COMPLETED"

        wait_for(completed, what="the run's COMPLETE event in the lineage store")
        yield service


def drawn(page) -> None:
    page.wait_for_selector("#graph[data-drawn='true']")


def click_node(page, node_id: str) -> None:
    """Click the node where Cytoscape drew it on its canvas."""
    box = page.locator("#graph").bounding_box()
    where = page.evaluate("id => document.getElementById('graph').cytoscape.getElementById(id).renderedPosition()", node_id)
    page.mouse.click(box["x"] + where["x"], box["y"] + where["y"])


def test_compliance_opens_the_graph_follows_a_run_to_its_decision_and_verifies_it(page, lineage_service, screenshot):
    sign_in(page, lineage_service.url, lineage_service.token("compliance", "audit"), "/ui/lineage")
    assert page.get_by_role("heading", name="Lineage", exact=True).is_visible()
    page.get_by_label("Dataset or job name").fill("baselines")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    with page.expect_navigation():
        page.get_by_role("link", name="dataset baselines/bell").click()
    drawn(page)
    nodes = page.get_by_role("navigation", name="Nodes of the graph").get_by_role("button")
    assert nodes.count() == 3
    assert "3 nodes, 2 edges" in page.locator("#graph-status").inner_text()
    panel = page.locator("#facets")
    assert "Classification" in panel.inner_text() and "internal" in panel.inner_text()
    positions = page.evaluate("ids => ids.map(id => document.getElementById('graph').cytoscape.getElementById(id).position('x'))",
                              [BASELINES, RUN, RESULTS])
    assert positions == sorted(positions), "the graph is not laid out left to right"
    screenshot(page, "lineage")

    result = nodes.filter(has_text="bell-calibration/results")
    result.focus()
    page.keyboard.press("Enter")
    assert result.get_attribute("aria-pressed") == "true" and "bitstring, count" in panel.inner_text()

    click_node(page, RUN)
    panel.get_by_role("heading", name="Quantum job").wait_for()
    text = panel.inner_text()
    assert "aer_simulator" in text and "Procurement" in text and "COMPLETED" in text
    assert nodes.filter(has_text="experiment run").get_attribute("aria-pressed") == "true"
    screenshot(page, "lineage-run")
    with page.expect_navigation():
        panel.get_by_role("link", name="Decision: allowed").click()
    assert "/ui/decisions/" in page.url and page.get_by_role("heading", name="Decision").first.is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Verify this record").click()
    assert "is in the log" in page.locator("#verification").inner_text()


def test_everything_upstream_of_a_result(page, lineage_service):
    sign_in(page, lineage_service.url, lineage_service.token("compliance", "audit"), quote(f"/ui/lineage?node={RESULTS}&depth=0", safe=""))
    drawn(page)
    assert page.get_by_role("navigation", name="Nodes of the graph").get_by_role("button").count() == 1
    with page.expect_navigation():
        page.locator("#facets").get_by_role("link", name="Everything upstream of this").click()
    assert "direction=upstream" in page.url
    drawn(page)
    listed = page.get_by_role("navigation", name="Nodes of the graph").inner_text()
    assert "baselines/bell" in listed and "bell-calibration" in listed
    assert page.get_by_label("Direction").input_value() == "upstream"


def test_the_graph_holds_at_a_phones_width(narrow_page, lineage_service, screenshot):
    sign_in(narrow_page, lineage_service.url, lineage_service.token("compliance", "audit"), quote(f"/ui/lineage?node={RUN}", safe=""))
    drawn(narrow_page)
    width = narrow_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the lineage page scrolls sideways at 390 px ({width} px wide)"
    assert narrow_page.locator("#facets").is_visible()
    screenshot(narrow_page, "lineage-narrow")
