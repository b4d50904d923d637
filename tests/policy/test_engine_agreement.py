"""Every engine present decides every input identically: the examples and a few hundred generated submissions.

The engines present are the embedded one and OPA's Data API (the loopback stand-in, see tests/opa_standin.py),
reached over real HTTPS; what this proves for the OPA path is that nothing is lost between govern and a server:
JSON numbers (64-bit integers included), strings, the entrypoint path, the shape of the result.
"""

from __future__ import annotations

import ssl
from datetime import timedelta

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govern.circuit import CircuitLimits, profile_qasm
from govern.manifest.schema import MAX_SHOTS, Experiment
from govern.policy.engines.opa import RemoteEngine
from govern.policy.input import build_policy_input, context_input
from tests.opa_standin import OpaStandIn

CIRCUITS = {
    "bell": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n',
    "wide": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[40];\nh q;\n',
}
DEVICES = [
    ("local", "aer_simulator"), ("onprem", "onprem_iqm_spark"), ("ibm", "ibm_brisbane"), ("ibm", "ibm_fez"),
    ("ibm", "ibm_brussels"), ("aws-braket", "ionq_aria"), ("aws-braket", "iqm_garnet"), ("ionq", "ionq_forte"),
    ("ionq", "ionq_simulator"), ("nowhere", "mystery_qpu"), ("ibm", "aer_simulator"),
]
SANDBOXES = [None, "SBX-2026-014", "SBX-2026-021", "SBX-2025-090", "SBX-2026-030", "SBX-2026-040", "SBX-MISSING"]
REGIONS = [None, "us-east", "us-east-1", "eu-de", "eu-north-1", "mars-1", "on-prem"]


@pytest.fixture(scope="module")
def remote_engine(engine):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with ca.cert_pem.tempfile() as ca_file, OpaStandIn(engine, context) as opa:
        client = RemoteEngine(opa.url, engine.bundle_revision, expected_revision=engine.bundle.manifest_revision, ca_bundle=ca_file)
        yield client
        client.close()


@pytest.fixture(scope="module")
def profiles():
    return {name: profile_qasm(text, name, CircuitLimits()) for name, text in CIRCUITS.items()}


def assert_same_decision(first, second, what) -> None:
    assert first.model_dump(include={"allow", "deny", "warn", "waived", "estimate", "input_hash"}) == second.model_dump(
        include={"allow", "deny", "warn", "waived", "estimate", "input_hash"}
    ), what


def test_every_example_decides_identically_on_every_engine(engine, remote_engine, example_inputs):
    for path, policy_input in example_inputs:
        assert_same_decision(engine.evaluate(policy_input), remote_engine.evaluate(policy_input), path)


datasets = st.lists(
    st.fixed_dictionaries(
        {
            "namespace": st.sampled_from(["s3://rnd", "postgres://crm"]),
            "name": st.text(st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=12),
            "classification": st.sampled_from(["public", "internal", "confidential", "restricted"]),
            "containsPII": st.booleans(),
            "pseudonymized": st.booleans(),
        },
        optional={"region": st.sampled_from([r for r in REGIONS if r])},
    ),
    max_size=3,
)


@st.composite
def submissions(draw):
    vendor, device = draw(st.sampled_from(DEVICES))
    spec = {
        "purpose": "generated",
        "circuit": {"qasm": draw(st.sampled_from(sorted(CIRCUITS)))},
        "backend": {"vendor": vendor, "device": device},
        "shots": draw(st.one_of(st.integers(1, 200_000), st.integers(1, MAX_SHOTS))),
        "datasets": draw(datasets),
    }
    region = draw(st.sampled_from(REGIONS))
    if region:
        spec["backend"]["region"] = region
    sandbox = draw(st.sampled_from(SANDBOXES))
    if sandbox:
        spec["sandbox"] = sandbox
    if draw(st.booleans()):
        spec["fallback"] = {"device": draw(st.sampled_from(["aer_simulator", "ibm_brisbane", "nowhere"])), "on": ["unavailable"]}
    if draw(st.booleans()):
        spec["credentials"] = {"token": draw(st.sampled_from(["env:IBM_TOKEN", "vault:secret/q#t", "plain-value", "env:"]))}
    if draw(st.booleans()):
        spec["backend"]["endpoint"] = draw(st.sampled_from(["https://api.example.com", "http://api.example.com"]))
    labels = draw(st.sampled_from([{}, {"costCenter": "CC-1"}]))
    team = draw(st.sampled_from(["materials-rnd", "quantum-finance", "chem-ai", "optimization-lab"]))
    return {
        "apiVersion": "govern/v1",
        "kind": "Experiment",
        "metadata": {"name": "generated", "team": team, "owner": "a@example.com", "labels": labels},
        "spec": spec,
    }


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=submissions(), days=st.integers(-400, 120))
def test_generated_submissions_decide_identically_on_every_engine(
    engine, remote_engine, profiles, example_context, examples_now, document, days
):
    experiment = Experiment.model_validate(document)
    profile = profiles[experiment.spec.circuit.qasm]
    policy_input = build_policy_input(
        experiment, profile, context_input(example_context), examples_now + timedelta(days=days)
    )
    embedded = engine.evaluate(policy_input)
    assert embedded.rule_ids != ["GOV-ENGINE"], embedded.deny
    assert_same_decision(embedded, remote_engine.evaluate(policy_input), document)
