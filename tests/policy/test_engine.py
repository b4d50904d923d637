"""The embedded engine (regorus): decisions as evidence, and failing closed on every kind of trouble."""

from __future__ import annotations

import gc
import io
import json
import threading
from pathlib import Path

import pytest

from govern.canonical import canonical_json
from govern.policy.bundle import BundleError, load_bundle
from govern.policy.decision import ENGINE_FAILURE_RULE
from govern.policy.engines import EngineError, UnavailableEngine, evaluator
from govern.policy.engines.embedded import RegorusEngine, load_engine

RULE_ANNOTATION = """# METADATA
# title: Restricted datasets
# description: A restricted dataset is denied.
# custom:
#   id: T-001
#   severity: high
#   waivable: true
#   remediation: Use another dataset.
"""

GOOD_POLICY = (
    """package govern

import rego.v1

"""
    + RULE_ANNOTATION
    + """deny contains finding if {
	some d in input.datasets
	d.classification == "restricted"
	finding := {"rule": "T-001", "message": sprintf("dataset %s is restricted", [d.name])}
}

decision := {"allow": count(deny) == 0, "deny": deny, "warn": [], "waived": [], "estimate": {}}
"""
)


def make_bundle(root: Path, policy: str = GOOD_POLICY, tests: str | None = None, revision: str = "t1") -> Path:
    (root / "govern").mkdir(parents=True, exist_ok=True)
    (root / ".manifest").write_text(json.dumps({"revision": revision, "roots": ["govern"]}))
    (root / "govern" / "policy.rego").write_text(policy)
    if tests is not None:
        (root / "govern" / "policy_test.rego").write_text(tests)
    return root


def with_condition(condition: str) -> str:
    """GOOD_POLICY with one more condition in its deny rule."""
    return GOOD_POLICY.replace('d.classification == "restricted"', f'd.classification == "restricted"\n\t{condition}')


def restricted(**fields: object) -> dict:
    return {"datasets": [{"name": "cohorts", "classification": "restricted", **fields}]}


def test_decision_carries_its_evidence(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)))
    decision = engine.evaluate(restricted())
    assert decision.allow is False
    assert decision.rule_ids == ["T-001"]
    assert decision.deny[0].message == "dataset cohorts is restricted"
    assert decision.bundle_revision.startswith("sha256:") and len(decision.bundle_revision) == 71
    assert decision.input_hash.startswith("sha256:")
    assert decision.engine == "embedded"
    assert decision.decision_id and decision.evaluation_ms > 0
    assert decision.provenance is None


def test_same_input_same_hash_and_revision_different_decision_ids(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)))
    first = engine.evaluate({"datasets": [], "b": 1, "a": 2})
    second = engine.evaluate({"a": 2, "datasets": [], "b": 1})
    assert first.input_hash == second.input_hash
    assert first.decision_id != second.decision_id
    assert first.allow and second.allow


def test_revision_follows_content(tmp_path):
    first = load_bundle(make_bundle(tmp_path / "a")).revision
    second = load_bundle(make_bundle(tmp_path / "b", GOOD_POLICY.replace("restricted", "secret"))).revision
    assert first != second
    assert load_bundle(make_bundle(tmp_path / "c")).revision == first


def test_quotes_backslashes_and_newlines_in_input_round_trip(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)))
    name = 'co"horts\\2026\nq3 \u00e9 \U0001f600'
    decision = engine.evaluate({"datasets": [{"name": name, "classification": "restricted"}]})
    assert decision.deny[0].message == f"dataset {name} is restricted"


def test_big_integers_stay_exact_from_input_to_message(tmp_path):
    policy = with_condition("d.rows > 100").replace('sprintf("dataset %s is restricted", [d.name])', 'sprintf("%d rows", [d.rows])')
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)))
    for rows in (2**53 + 1, 2**63, 2**64 - 1):
        assert engine.evaluate(restricted(rows=rows)).deny[0].message == f"{rows} rows"


@pytest.mark.parametrize(
    "condition",
    ['to_number(d.name) > 0', "1 / count([]) > 0", 'json.unmarshal(d.name) == 1', 'regex.match("a{1000}{1000}", d.name)'],
)
def test_a_failing_builtin_denies_instead_of_failing_open(tmp_path, condition):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, with_condition(condition))))
    decision = engine.evaluate(restricted())
    assert decision.allow is False
    assert decision.rule_ids == [ENGINE_FAILURE_RULE]
    assert "Stack backtrace" not in decision.deny[0].message


def test_a_failing_builtin_is_reported_where_it_failed(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, with_condition("to_number(d.name) > 0"))))
    message = engine.evaluate(restricted()).deny[0].message
    assert "govern/policy.rego:" in message and "could not parse string as number" in message


def test_conflicting_rule_values_deny(tmp_path):
    policy = GOOD_POLICY + '\nlevel := "a" if input.x\n\nlevel := "b" if input.x\n\nx := level\n'
    policy = policy.replace('"estimate": {}', '"estimate": {"level": level}')
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)))
    decision = engine.evaluate({"datasets": [], "x": True})
    assert decision.rule_ids == [ENGINE_FAILURE_RULE]


def foreign_engine(bundle):
    """A regorus engine made on another thread: regorus panics when this thread touches it."""
    made = {}
    thread = threading.Thread(target=lambda: made.setdefault("engine", load_engine(bundle)))
    thread.start()
    thread.join()
    return made["engine"]


def a_real_panic(bundle) -> BaseException:
    """The PanicException regorus raises when an engine is used from the wrong thread."""
    caught = {}
    stranger = foreign_engine(bundle)

    def touch() -> None:
        try:
            stranger.clone()
        except BaseException as exc:  # noqa: BLE001 - catching the panic is the point
            caught["panic"] = exc

    thread = threading.Thread(target=touch)
    thread.start()
    thread.join()
    return caught["panic"]


unsendable_engines_leak_by_design = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@unsendable_engines_leak_by_design
def test_a_panic_in_the_evaluator_is_answered_as_an_error_and_the_next_query_works(tmp_path, monkeypatch):
    """The evaluator process's own loop, run here on a real regorus panic (an engine from another thread)."""
    bundle = load_bundle(make_bundle(tmp_path))
    real_load = evaluator.load
    engines = iter([foreign_engine(bundle)])
    monkeypatch.setattr(evaluator, "load", lambda modules, data: next(engines, None) or real_load(modules, data))
    setup = json.dumps({"modules": [[m.path, m.source] for m in bundle.policy_modules], "data": bundle.data_json, "memory_bytes": 0})
    query = b"govern/decision\n" + canonical_json({"datasets": []})
    replies = io.BytesIO()
    evaluator.serve(io.BytesIO(b"".join(evaluator.frame(x) for x in (setup.encode(), query, query))), replies)
    replies.seek(0)
    frames = [evaluator.read_frame(replies) for _ in range(3)]
    assert frames[0] == evaluator.RESULT
    assert frames[1].startswith(evaluator.ERROR + b"the engine crashed (PanicException")
    assert frames[2].startswith(evaluator.RESULT) and json.loads(frames[2][1:])["allow"] is True


def test_an_evaluator_that_dies_mid_query_denies_and_is_replaced(tmp_path):
    policy = with_condition("count([n | some n in numbers.range(1, input.size); n % 7 == 0]) > 0")
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)), timeout_s=30, workers=1)
    assert engine.evaluate({"datasets": []}).allow
    (evaluator_process,) = [p for p in engine._pool.processes()]
    threading.Timer(0.5, evaluator_process.kill).start()
    decision = engine.evaluate({**restricted(), "size": 50_000_000})
    assert decision.rule_ids == [ENGINE_FAILURE_RULE] and "evaluator process ended" in decision.deny[0].message
    assert engine.evaluate({"datasets": []}).allow
    engine.close()


def test_an_evaluation_that_allocates_without_bound_is_denied(tmp_path):
    policy = with_condition("count(numbers.range(1, input.size)) > 0")
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)), timeout_s=30, workers=1, memory_bytes=512 << 20)
    decision = engine.evaluate({**restricted(), "size": 4_000_000_000})
    assert decision.rule_ids == [ENGINE_FAILURE_RULE]
    assert engine.evaluate({"datasets": []}).allow
    engine.close()


@unsendable_engines_leak_by_design
def test_a_panic_that_escapes_the_engine_is_still_a_deny(tmp_path, monkeypatch):
    """pyo3's PanicException derives from BaseException: `except Exception` would let it through."""
    bundle = load_bundle(make_bundle(tmp_path))
    panic = a_real_panic(bundle)
    assert type(panic).__name__ == "PanicException" and not isinstance(panic, Exception)
    engine = RegorusEngine(bundle)

    def crash(*args):
        raise panic

    monkeypatch.setattr(engine, "query", crash)
    decision = engine.evaluate({"datasets": []})
    assert decision.rule_ids == [ENGINE_FAILURE_RULE] and "PanicException" in decision.deny[0].message
    monkeypatch.undo()
    panic = None  # the panic's traceback holds the foreign engine: free it while this test ignores the warning
    gc.collect()


def test_bundle_that_does_not_parse_is_refused_with_its_position(tmp_path):
    with pytest.raises(EngineError, match=r"govern/policy.rego:\d+: error: does not parse"):
        RegorusEngine(load_bundle(make_bundle(tmp_path, GOOD_POLICY + "\nbroken := 1 +\n")))


def test_malformed_result_denies(tmp_path):
    policy = 'package govern\n\nimport rego.v1\n\ndecision := {"allow": true}\n'
    decision = RegorusEngine(load_bundle(make_bundle(tmp_path, policy))).evaluate({})
    assert decision.allow is False
    assert "malformed result" in decision.deny[0].message


def test_undefined_decision_denies(tmp_path):
    policy = 'package govern\n\nimport rego.v1\n\ndecision := {"allow": true, "deny": []} if input.never\n'
    decision = RegorusEngine(load_bundle(make_bundle(tmp_path, policy))).evaluate({})
    assert decision.allow is False
    assert "undefined" in decision.deny[0].message


def test_allow_true_with_denies_is_still_a_deny(tmp_path):
    policy = GOOD_POLICY.replace('"allow": count(deny) == 0', '"allow": true')
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)))
    assert engine.evaluate(restricted()).allow is False


def test_timeout_denies_and_a_runaway_keeps_only_its_own_thread(tmp_path):
    policy = with_condition("count([n | some n in numbers.range(1, input.size); n % 7 == 0]) > 0")
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, policy)), timeout_s=0.05, workers=2)
    decision = engine.evaluate({**restricted(), "size": 3_000_000})
    assert decision.allow is False
    assert "did not finish within 0.05s" in decision.deny[0].message
    assert engine.evaluate({"datasets": []}).allow is True


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_unserialisable_input_denies(tmp_path, value):
    decision = RegorusEngine(load_bundle(make_bundle(tmp_path))).evaluate({"datasets": [], "bad": value})
    assert decision.allow is False and decision.rule_ids == [ENGINE_FAILURE_RULE]


def test_an_input_nested_past_the_engines_limit_denies(tmp_path):
    deep: object = 1
    for _ in range(200):
        deep = [deep]
    decision = RegorusEngine(load_bundle(make_bundle(tmp_path))).evaluate({"datasets": [], "deep": deep})
    assert decision.allow is False and decision.rule_ids == [ENGINE_FAILURE_RULE]


def test_missing_bundle_is_an_error_and_the_stand_in_engine_denies(tmp_path):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no .manifest"):
        load_bundle(tmp_path / "empty")
    decision = UnavailableEngine("policy bundle not found").evaluate({"anything": 1})
    assert decision.allow is False and "policy bundle not found" in decision.deny[0].message


def test_canonical_json_is_order_independent_and_keeps_big_integers():
    assert canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'
    assert canonical_json({"now_ns": 1795000000000000000}) == b'{"now_ns":1795000000000000000}'


def test_each_thread_builds_its_own_engine_and_results_agree(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)), workers=4)
    inputs = [restricted() if i % 2 else {"datasets": []} for i in range(64)]
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append((i, engine.evaluate(inputs[i]).allow))) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [(i, i % 2 == 0) for i in range(64)]


def test_authorization_answers_and_fails_closed(engine, tmp_path):
    ask = {"token": {"id": "t1", "role": "submitter", "team": "materials-rnd"}, "action": "check", "resource": {"team": "materials-rnd"}}
    assert engine.authorize(ask).allow
    other_team = dict(ask, resource={"team": "quantum-finance"})
    answer = engine.authorize(other_team)
    assert not answer.allow and "own team" in answer.reason
    without_authz = RegorusEngine(load_bundle(make_bundle(tmp_path)))
    answer = without_authz.authorize(ask)
    assert not answer.allow and "no govern/authz/decision entrypoint" in answer.reason
    assert not UnavailableEngine("no bundle").authorize(ask).allow
