"""The remote engine against a loopback HTTPS server speaking OPA's Data API (no OPA binary can be installed
here, see tests/opa_standin.py): it must agree with the embedded engine, use TLS, and fail closed."""

from __future__ import annotations

import ssl

import pytest
import trustme

from govern.policy.engines import EngineError
from govern.policy.engines.opa import RemoteEngine
from tests.opa_standin import OpaStandIn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def opa(engine, ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with OpaStandIn(engine, context) as server:
        yield server


def remote(opa, ca_file, **options) -> RemoteEngine:
    options.setdefault("expected_revision", opa.engine.bundle.manifest_revision)
    return RemoteEngine(opa.url, opa.engine.bundle_revision, ca_bundle=ca_file, **options)


def test_remote_and_embedded_agree_on_every_example(opa, ca_file, engine, example_inputs):
    client = remote(opa, ca_file)
    assert len(example_inputs) >= 10
    for path, policy_input in example_inputs:
        local, far = engine.evaluate(policy_input), client.evaluate(policy_input)
        assert far.engine == "opa", path
        assert (far.allow, far.rule_ids, far.estimate) == (local.allow, local.rule_ids, local.estimate), path
        assert far.input_hash == local.input_hash
        assert far.bundle_revision == local.bundle_revision
    assert all(r["path"] == "/v1/data/govern/decision?provenance=true" for r in opa.requests)


def test_opas_decision_id_and_bundle_revision_are_recorded(opa, ca_file, example_inputs):
    decision = remote(opa, ca_file).evaluate(example_inputs[0][1])
    provenance = decision.provenance
    assert provenance["engine"] == "opa" and provenance["bundle"] == "govern" and provenance["opaVersion"] == "stand-in"
    assert provenance["revision"] == opa.engine.bundle.manifest_revision
    assert len(provenance["decisionId"]) == 36 and provenance["decisionId"] != decision.decision_id
    assert "provenance" in decision.model_dump(mode="json")


def test_a_server_running_another_bundle_revision_denies(opa, ca_file, example_inputs):
    allowed_input = next(i for p, i in example_inputs if "allowed" in p.parts)
    opa.bundles = {"govern": {"revision": "2020.01.0"}}
    decision = remote(opa, ca_file).evaluate(allowed_input)
    assert decision.allow is False and decision.rule_ids == ["GOV-ENGINE"]
    assert "revision '2020.01.0', not the expected" in decision.deny[0].message


def test_a_server_with_several_bundles_needs_to_be_told_which(opa, ca_file, example_inputs):
    allowed_input = next(i for p, i in example_inputs if "allowed" in p.parts)
    opa.bundles = {"other": {"revision": "x"}, "policies": {"revision": opa.engine.bundle.manifest_revision}}
    assert "configure which one" in remote(opa, ca_file).evaluate(allowed_input).deny[0].message
    assert remote(opa, ca_file, bundle_name="policies").evaluate(allowed_input).allow


def test_a_server_reporting_no_provenance_denies(opa, ca_file, example_inputs):
    opa.bundles = {}
    assert "no bundle provenance" in remote(opa, ca_file).evaluate(example_inputs[0][1]).deny[0].message


def test_bearer_token_is_sent_and_never_recorded(opa, ca_file, example_inputs):
    decision = remote(opa, ca_file, token="s3cr3t-opa-token").evaluate(example_inputs[0][1])
    assert opa.headers[-1]["Authorization"] == "Bearer s3cr3t-opa-token"
    assert "s3cr3t-opa-token" not in decision.model_dump_json()


def test_plain_http_is_refused_unless_explicitly_allowed(engine, example_inputs):
    with pytest.raises(EngineError, match="plain http"):
        RemoteEngine("http://127.0.0.1:8181", engine.bundle_revision, expected_revision="r")
    with OpaStandIn(engine, None) as plain:
        expected = engine.bundle.manifest_revision
        decision = RemoteEngine(plain.url, engine.bundle_revision, expected_revision=expected, allow_insecure_http=True).evaluate(
            example_inputs[0][1]
        )
    assert decision.engine == "opa" and decision.rule_ids == engine.evaluate(example_inputs[0][1]).rule_ids


def test_untrusted_server_certificate_denies(opa, example_inputs):
    decision = RemoteEngine(opa.url, "rev", expected_revision="rev").evaluate(example_inputs[0][1])
    assert decision.allow is False
    assert "TLS verification" in decision.deny[0].message
    assert opa.requests == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "HTTP 500"),
        ("garbage", "answered garbage"),
        ("undefined", "no result"),
        ("wrong-shape", "malformed result"),
        ("slow", "did not answer in time"),
    ],
)
def test_server_faults_deny(opa, ca_file, example_inputs, mode, reason):
    opa.mode = mode
    allowed_input = next(i for p, i in example_inputs if "allowed" in p.parts)
    decision = remote(opa, ca_file, timeout_s=0.3).evaluate(allowed_input)
    assert decision.allow is False
    assert reason in decision.deny[0].message


def test_unreachable_server_denies(engine, ca_file, example_inputs):
    unreachable = RemoteEngine("https://127.0.0.1:9", engine.bundle_revision, expected_revision="r", ca_bundle=ca_file)
    decision = unreachable.evaluate(example_inputs[0][1])
    assert decision.allow is False and "could not be reached" in decision.deny[0].message


def test_remote_authorization_agrees_with_embedded(opa, ca_file, engine):
    ask = {"token": {"id": "t1", "role": "compliance", "team": "audit"}, "action": "submission.read", "resource": {"team": "x"}}
    assert remote(opa, ca_file).authorize(ask) == engine.authorize(ask)
    assert opa.requests[-1]["path"] == "/v1/data/govern/authz/decision?provenance=true"
    opa.mode = "garbage"
    assert not remote(opa, ca_file).authorize(ask).allow
