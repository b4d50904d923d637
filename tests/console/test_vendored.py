"""The console's vendored JavaScript is exactly what VENDORED.md lists: every file there by its sha256, and
nothing in the folder that it does not list (a changed or added file must come through `update`); and it works
in Chromium under the strict CSP the console serves."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import ROOT

VENDOR = ROOT / "govern" / "console" / "static" / "vendor"
ROW = re.compile(r"^\| `([^`]+)` \| `[^`]+` \| [^|]+ \| `[^`]+` \| `([0-9a-f]{64})` \|$", re.MULTILINE)
TOOLING = {"VENDORED.md", "update"}


def listed() -> dict[str, str]:
    """file (relative to the vendor folder) → sha256, from VENDORED.md's table."""
    return dict(ROW.findall((VENDOR / "VENDORED.md").read_text(encoding="utf-8")))


def test_every_vendored_file_matches_its_listed_sha256():
    files = listed()
    assert files, "VENDORED.md lists no files"
    for path, digest in files.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, f"{path} differs from VENDORED.md"


def test_nothing_is_vendored_unlisted():
    present = {path.relative_to(VENDOR).as_posix() for path in VENDOR.rglob("*") if path.is_file()} - TOOLING
    assert present == set(listed())


def test_each_library_ships_its_licence():
    files = listed()
    for folder in {path.split("/")[0] for path in files}:
        assert f"{folder}/LICENSE" in files, folder


ORIGIN = "http://console.test"
PAGE = """<!doctype html><title>vendored</title>
<div id="graph" style="width:600px;height:300px"></div><canvas id="chart" width="600" height="300"></canvas>
<script src="/vendor/cytoscape/cytoscape.min.js"></script>
<script src="/vendor/cytoscape-dagre/cytoscape-dagre.min.js"></script>
<script src="/vendor/chart.js/chart.umd.min.js"></script>
<script src="/check.js"></script>"""
CHECK = """
const cy = cytoscape({container: document.getElementById('graph'), elements: [
  {data: {id: 'dataset'}}, {data: {id: 'run'}}, {data: {id: 'result'}},
  {data: {source: 'dataset', target: 'run'}}, {data: {source: 'run', target: 'result'}}]});
cy.layout({name: 'dagre', rankDir: 'LR'}).run();
const chart = new Chart(document.getElementById('chart'), {type: 'bar', data: {labels: ['allow', 'deny'],
  datasets: [{label: 'decisions', data: [3, 1]}]}, options: {animation: false}});
window.checked = {x: ['dataset', 'run', 'result'].map(id => cy.getElementById(id).position('x')),
                  bars: chart.getDatasetMeta(0).data.length};
"""


def test_the_vendored_libraries_lay_out_a_graph_and_draw_a_chart_under_a_strict_csp(page):
    """Served as the console serves them, same origin under `script-src 'self'`: dagre lays the graph out left
    to right and Chart.js draws its bars, with no inline script or eval (the page fixture fails on a refusal)."""
    policy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"

    def serve(route):
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            body, kind = PAGE.encode(), "text/html"
        elif path == "/check.js":
            body, kind = CHECK.encode(), "text/javascript"
        else:
            body, kind = (VENDOR / path.removeprefix("/vendor/")).read_bytes(), "text/javascript"
        route.fulfill(body=body, content_type=kind, headers={"Content-Security-Policy": policy})

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.checked !== undefined")
    checked = page.evaluate("window.checked")
    assert checked["x"] == sorted(checked["x"]) and len(set(checked["x"])) == 3, checked
    assert checked["bars"] == 2
