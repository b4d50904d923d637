"""Batched evaluation (`evaluate_many`, for replaying history): every decision as `evaluate` would give it."""

from __future__ import annotations

import io
import json
import threading

import pytest

from govern.canonical import canonical_json
from govern.policy.bundle import load_bundle
from govern.policy.decision import ENGINE_FAILURE_RULE
from govern.policy.engines import embedded, evaluator
from govern.policy.engines.embedded import RegorusEngine
from tests.policy.test_engine import (
    GOOD_POLICY,
    foreign_engine,
    make_bundle,
    restricted,
    unsendable_engines_leak_by_design,
    with_condition,
)


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


VARIED_POLICY = GOOD_POLICY.replace(
    'decision := {"allow"', 'decision := {"allow": true} if input.malformed\n\nelse := {"allow"'
).replace('"estimate": {}}', '"estimate": {"n": object.get(input, "n", 0), "b": to_number(object.get(input, "broken", 0))}} if not input.hidden')

VARIED_INPUTS = [
    {"datasets": [], "n": 1},
    restricted(),
    {"datasets": [], "hidden": True},
    {"datasets": [], "broken": "not a number"},
    {"datasets": [], "malformed": True},
    {"datasets": [], "bad": float("nan")},
    {"datasets": [], "n": 2**64 - 1},
    {"datasets": [{"name": 'q"\\\n\u00e9', "classification": "restricted"}]},
    {"datasets": [], "deep": nested(200)},
]

RUNAWAY_POLICY = with_condition("count([n | some n in numbers.range(1, input.size); n % 7 == 0]) > 0")
RUNAWAY_SIZE = 1_500_000
"""Long enough for the runaway policy to take about a second, small enough to stay under the memory cap."""


def comparable(decision) -> dict:
    return decision.model_dump(exclude={"decision_id", "evaluation_ms", "evaluated_at"})


def test_each_batched_decision_is_the_one_evaluate_gives(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, VARIED_POLICY)), workers=2)
    inputs = VARIED_INPUTS * 5
    alone = [engine.evaluate(policy_input) for policy_input in inputs]
    batched = engine.evaluate_many(inputs)
    assert [comparable(d) for d in batched] == [comparable(d) for d in alone]
    reasons = [d.deny[0].message if d.deny else "" for d in batched[: len(VARIED_INPUTS)]]
    assert "undefined" in reasons[2] and "could not parse string as number" in reasons[3]
    assert "malformed result" in reasons[4] and "not JSON" in reasons[5]
    assert batched[8].rule_ids == [ENGINE_FAILURE_RULE]
    assert batched[0].allow and batched[0].estimate["n"] == 1 and batched[6].estimate["n"] == 2**64 - 1
    assert all(d.evaluation_ms >= 0 for d in batched) and len({d.decision_id for d in batched}) == len(inputs)
    engine.close()


def test_the_examples_batched_are_decided_as_one_by_one(engine, example_inputs):
    inputs = [policy_input for _, policy_input in example_inputs] * 3
    batched = engine.evaluate_many(inputs)
    assert [comparable(d) for d in batched] == [comparable(engine.evaluate(x)) for x in inputs]
    assert {d.outcome.value for d in batched} == {"allowed", "warned", "denied"}


def test_no_inputs_no_decisions(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)), workers=2)
    assert engine.evaluate_many([]) == []
    engine.close()


def test_order_is_kept_across_many_batches_that_do_not_fit_one_frame(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "BATCH_BYTES", 600)
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path)), workers=2)
    requests = []
    real_call = engine._pool.call

    def recording(request, timeout_s):
        requests.append(request)
        return real_call(request, timeout_s)

    monkeypatch.setattr(engine._pool, "call", recording)
    inputs = [{"datasets": [{"name": f"cohort-{i}", "classification": "restricted"}], "padding": "x" * 50} for i in range(60)]
    inputs[17] = {"datasets": [], "padding": "y" * 2000}
    decisions = engine.evaluate_many(inputs)
    assert [d.deny[0].message if d.deny else "allowed" for d in decisions] == [
        "allowed" if i == 17 else f"dataset cohort-{i} is restricted" for i in range(60)
    ]
    assert len(requests) > 10 and all(r.startswith(evaluator.BATCH) for r in requests)
    assert sorted(len(r) > 600 + len(b"*govern/decision\n") for r in requests) == [False] * (len(requests) - 1) + [True]
    assert [d.input_hash for d in decisions] == [engine.evaluate(x).input_hash for x in inputs]
    engine.close()


def test_a_runaway_input_in_a_batch_is_denied_for_its_timeout_and_the_rest_are_decided(tmp_path):
    """The batch of six overruns its 0.3s and is decided again one at a time: only the runaway is denied for it."""
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, RUNAWAY_POLICY)), timeout_s=0.05, workers=2)
    inputs = [{"datasets": []} if i % 2 else {**restricted(), "size": 10} for i in range(12)]
    inputs[3] = {**restricted(), "size": RUNAWAY_SIZE}
    decisions = engine.evaluate_many(inputs)
    assert decisions[3].allow is False and decisions[3].rule_ids == [ENGINE_FAILURE_RULE]
    assert "did not finish within 0.05s" in decisions[3].deny[0].message
    assert [d.rule_ids for i, d in enumerate(decisions) if i != 3] == [[] if i % 2 else ["T-001"] for i in range(12) if i != 3]
    engine.close()


def test_a_batch_whose_evaluator_dies_is_decided_again_one_at_a_time(tmp_path):
    engine = RegorusEngine(load_bundle(make_bundle(tmp_path, RUNAWAY_POLICY)), timeout_s=30, workers=1)
    assert engine.evaluate({"datasets": []}).allow
    (evaluator_process,) = engine._pool.processes()
    threading.Timer(0.3, evaluator_process.kill).start()
    inputs = [{"datasets": []}, {**restricted(), "size": RUNAWAY_SIZE}, {**restricted(), "size": 10}]
    decisions = engine.evaluate_many(inputs)
    assert [d.rule_ids for d in decisions] == [[], ["T-001"], ["T-001"]]
    assert [comparable(d) for d in decisions] == [comparable(engine.evaluate(x)) for x in inputs]
    engine.close()


@unsendable_engines_leak_by_design
def test_a_panic_on_one_input_of_a_batch_is_its_error_and_the_next_inputs_are_answered(tmp_path, monkeypatch):
    """The evaluator's own loop on a real regorus panic (an engine from another thread) mid-batch."""
    bundle = load_bundle(make_bundle(tmp_path))
    real_load = evaluator.load
    engines = iter([foreign_engine(bundle)])
    monkeypatch.setattr(evaluator, "load", lambda modules, data: next(engines, None) or real_load(modules, data))
    replies = serve_in_memory(bundle, evaluator.batch_request("govern/decision", [canonical_json({"datasets": []})] * 2))
    first, second = evaluator.split_frames(replies[1][1:])
    assert first.startswith(evaluator.ERROR + b"the engine crashed (PanicException")
    assert second.startswith(evaluator.RESULT) and json.loads(second[1:])["allow"] is True


def serve_in_memory(bundle, *requests: bytes) -> list[bytes]:
    """The evaluator's loop over in-memory streams: the setup's reply, then one per request."""
    setup = json.dumps({"modules": [[m.path, m.source] for m in bundle.policy_modules], "data": bundle.data_json, "memory_bytes": 0})
    replies = io.BytesIO()
    evaluator.serve(io.BytesIO(b"".join(evaluator.frame(x) for x in (setup.encode(), *requests))), replies)
    replies.seek(0)
    return [evaluator.read_frame(replies) for _ in range(len(requests) + 1)]


@pytest.mark.parametrize("inputs", [b"\x00\x00\x00\x09{}", b"\x00\x00"])
def test_a_batch_request_that_is_not_frames_is_answered_as_an_error(tmp_path, inputs):
    good = evaluator.batch_request("govern/decision", [canonical_json({"datasets": []}), canonical_json(restricted())])
    frames = serve_in_memory(load_bundle(make_bundle(tmp_path)), evaluator.BATCH + b"govern/decision\n" + inputs, good)
    assert frames[1] == evaluator.ERROR + b"the batch request is not a sequence of frames"
    assert frames[2][:1] == evaluator.RESULT
    answers = evaluator.split_frames(frames[2][1:])
    assert [json.loads(a[1:])["allow"] for a in answers] == [True, False]
