"""The decision search's content filters read a bounded window of records per page, however rare the match,
and page on through the log by cursor until they find it."""

from __future__ import annotations

import pytest

from govern.audit.log import append
from govern.audit.search import DecisionFilters, search_decisions
from govern.db.database import create_db_engine, session_scope, upgrade

pytestmark = pytest.mark.slow


@pytest.fixture
def log(database_url, engine, example_inputs):
    """40 records: allowed checks, but for one denial (seq 4) that fired the rules it names."""
    inputs = {path.stem: policy_input for path, policy_input in example_inputs}
    allowed, denied = engine.evaluate(inputs["bell-local"]), engine.evaluate(inputs["no-sandbox"])
    db = create_db_engine(database_url)
    upgrade(db)
    with session_scope(db) as session:
        for index in range(40):
            decision, policy_input = (denied, inputs["no-sandbox"]) if index == 3 else (allowed, inputs["bell-local"])
            append(session, decision.model_copy(update={"decision_id": f"search-{index}"}), policy_input, actor="t", kind="check")
    yield db, denied.deny[0].rule
    db.dispose()


def test_a_rare_rule_is_found_a_window_at_a_time(log):
    db, rule = log
    pages, cursor = [], None
    with session_scope(db) as session:
        while True:
            page = search_decisions(session, DecisionFilters(rule=rule), before=cursor, limit=5, scan_limit=10)
            pages.append(page)
            if page.items or page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert [page.scanned_to for page in pages[:-1]] == [31, 21, 11]
    assert [item.decision_id for item in pages[-1].items] == ["search-3"] and rule in pages[-1].items[0].rules


def test_a_common_match_fills_the_page_and_pages_on(log):
    db, _ = log
    with session_scope(db) as session:
        first = search_decisions(session, DecisionFilters(experiment="bell-calibration"), limit=5, scan_limit=10)
        second = search_decisions(session, DecisionFilters(experiment="bell-calibration"), before=first.next_cursor, limit=5, scan_limit=10)
    assert [item.seq for item in first.items] == [40, 39, 38, 37, 36] and first.scanned_to is None and first.next_cursor == 36
    assert [item.seq for item in second.items] == [35, 34, 33, 32, 31] and second.next_cursor == 31
