"""Signed bundles as OPA signs and checks them: RS256, ES256 and HS256, every way a signed bundle can go wrong,
`govern policy sign`, and the keys reaching every place a bundle is loaded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from govern.api import create_app
from govern.policy.bundle import BundleError, load_bundle, load_configured_bundle
from govern.policy.signing import Verification, file_digest, sign_files, signing_key, verification_from_settings
from govern.settings import Settings
from tests.conftest import EXAMPLES, EXAMPLES_NOW, ROOT
from tests.policy.test_engine import make_bundle as make_policy_bundle

SECRET = "a-shared-hmac-secret-of-40-characters-xx"

def make_bundle(root: Path, *args, **kwargs) -> Path:
    """A test bundle with one data document (`govern/limits/data.json`) beside its policy."""
    root = make_policy_bundle(root, *args, **kwargs)
    (root / "govern" / "limits").mkdir(exist_ok=True)
    (root / "govern" / "limits" / "data.json").write_text('{"maxShots": 100000, "tier": "high"}')
    return root



def pem_private(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def pem_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys(tmp_path, rsa_key, ec_key):
    """algorithm -> (what `--signing-key` takes, the verifier's key text)."""
    (tmp_path / "rsa.pem").write_text(pem_private(rsa_key))
    (tmp_path / "ec.pem").write_text(pem_private(ec_key))
    return {"RS256": (str(tmp_path / "rsa.pem"), pem_public(rsa_key)),
            "ES256": (str(tmp_path / "ec.pem"), pem_public(ec_key)),
            "HS256": (SECRET, SECRET)}


def settings_for(algorithm: str, key: str, **more) -> Settings:
    return Settings(bundle_keys={"ci": {"algorithm": algorithm, "key": key}}, **more)


def verifying(algorithm: str, key: str, **more) -> Verification:
    return verification_from_settings(settings_for(algorithm, key, **more))


def signed_copy(tmp_path: Path, cli, signing: str, algorithm: str = "RS256", *options: str) -> Path:
    folder = make_bundle(tmp_path / "bundle")
    result = cli("policy", "sign", folder, "--signing-key", signing, "--signing-alg", algorithm, "--key-id", "ci", *options)
    assert result.exit_code == 0, result.output
    return folder


def token_of(folder: Path) -> str:
    return json.loads((folder / ".signatures.json").read_text())["signatures"][0]


def segments(token: str) -> list[dict]:
    return [json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in token.split(".")[:2]]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "HS256"])
def test_a_signed_folder_verifies_and_keeps_its_revision(tmp_path, cli, keys, algorithm):
    signing, public = keys[algorithm]
    unsigned = load_bundle(make_bundle(tmp_path / "plain")).revision
    folder = signed_copy(tmp_path, cli, signing, algorithm)
    bundle = load_bundle(folder, verification=verifying(algorithm, public))
    assert bundle.revision == unsigned
    header, payload = segments(token_of(folder))
    assert header == {"alg": algorithm, "kid": "ci"} and payload["keyid"] == "ci"
    assert sorted(f["name"] for f in payload["files"]) == [".manifest", "govern/limits/data.json", "govern/policy.rego"]
    assert {f["algorithm"] for f in payload["files"]} == {"SHA-256"}


def test_a_signed_archive_verifies_and_carries_opa_member_names(tmp_path, cli, keys):
    folder = make_bundle(tmp_path / "bundle")
    archive = tmp_path / "bundle.tar.gz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(folder), "."], check=True)
    result = cli("policy", "sign", archive, "--signing-key", keys["ES256"][0], "--signing-alg", "ES256", "--key-id", "ci")
    assert result.exit_code == 0, result.output
    signed = tmp_path / "bundle.signed.tar.gz"
    with tarfile.open(signed) as opened:
        assert sorted(opened.getnames()) == ["/.manifest", "/.signatures.json", "/govern/limits/data.json", "/govern/policy.rego"]
    assert load_bundle(signed, verification=verifying("ES256", keys["ES256"][1])).revision == load_bundle(folder).revision
    with pytest.raises(BundleError, match="bundle is not signed"):
        load_bundle(archive, verification=verifying("ES256", keys["ES256"][1]))


def edit(folder: Path) -> None:
    (folder / "govern" / "policy.rego").write_text((folder / "govern" / "policy.rego").read_text().replace("restricted", "public"))


def add(folder: Path) -> None:
    (folder / "govern" / "extra.rego").write_text("package govern.extra\nimport rego.v1\nx := 1\n")


def add_ignored(folder: Path) -> None:
    (folder / "NOTES.md").write_text("ignored by the loader, yet not signed\n")


def remove(folder: Path) -> None:
    (folder / "govern" / "limits" / "data.json").unlink()


def swap_payload(folder: Path) -> None:
    """A payload that lists the edited file's hash, spliced onto the old header and signature."""
    edit(folder)
    token = token_of(folder)
    header, payload = segments(token)
    for entry in payload["files"]:
        if entry["name"] == "govern/policy.rego":
            entry["hash"] = hashlib.sha256((folder / "govern" / "policy.rego").read_bytes()).hexdigest()
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    parts = token.split(".")
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [f"{parts[0]}.{forged}.{parts[2]}"]}))


def deep(folder: Path) -> None:
    (folder / ".signatures.json").write_text('{"signatures": ' + "[" * 5000 + "]" * 5000 + "}")


def two_tokens(folder: Path) -> None:
    token = token_of(folder)
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [token, token]}))


def plugin(folder: Path) -> None:
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [token_of(folder)], "plugin": "kms"}))


def unsigned(folder: Path) -> None:
    (folder / ".signatures.json").unlink()


@pytest.mark.parametrize("tamper, problem", [
    (edit, "govern/policy.rego does not match its signed hash"),
    (add, "govern/extra.rego is not covered by the bundle signature"),
    (add_ignored, "NOTES.md is not covered by the bundle signature"),
    (remove, "signed file(s) missing from the bundle: govern/limits/data.json"),
    (swap_payload, "does not verify with key 'ci' (RS256): Signature verification failed"),
    (two_tokens, "exactly one JWS (it holds 2)"),
    (deep, ".signatures.json: nested more than 100 deep"),
    (plugin, "signature plugin 'kms'"),
    (unsigned, "bundle is not signed (no .signatures.json), but bundle keys are configured"),
])
def test_a_signed_bundle_that_changed_is_refused_with_the_reason(tmp_path, cli, keys, tamper, problem):
    folder = signed_copy(tmp_path, cli, keys["RS256"][0])
    tamper(folder)
    with pytest.raises(BundleError, match=re.escape(problem)):
        load_bundle(folder, verification=verifying("RS256", keys["RS256"][1]))


def test_another_key_an_unknown_kid_and_a_signed_bundle_without_keys_are_refused(tmp_path, cli, keys):
    folder = signed_copy(tmp_path, cli, keys["RS256"][0])
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(BundleError, match="does not verify with key 'ci'"):
        load_bundle(folder, verification=verifying("RS256", pem_public(other)))
    stranger = verification_from_settings(Settings(bundle_keys={"release": {"key": keys["RS256"][1]}}))
    with pytest.raises(BundleError, match="signed with key id 'ci', which is not configured"):
        load_bundle(folder, verification=stranger)
    with pytest.raises(BundleError, match="bundle is signed but no key to verify it is configured"):
        load_bundle(folder)
    with pytest.raises(BundleError, match="does not verify with key 'ci' \\(ES256\\)"):
        load_bundle(folder, verification=verifying("ES256", keys["ES256"][1]))


def test_the_configured_key_id_wins_over_the_token_kid_and_keyid_is_the_last_resort(tmp_path, keys):
    """verify.go: config keyid, else the header's kid, else the deprecated keyid claim."""
    folder = make_bundle(tmp_path)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    key = signing_key(keys["RS256"][0], "RS256")
    (folder / ".signatures.json").write_bytes(sign_files(files, key, "RS256", key_id="someone-else"))
    configured = Settings(bundle_keys={"ci": {"key": keys["RS256"][1]}}, bundle_key_id="ci")
    assert load_bundle(folder, verification=verification_from_settings(configured)).revision
    listed = [{"name": n, "hash": file_digest(n, c).hex(), "algorithm": "SHA-256"} for n, c in sorted(files.items())]
    claim_only = jwt.PyJWS().encode(json.dumps({"files": listed, "keyid": "ci"}).encode(), key, "RS256", headers={"typ": None})
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [claim_only]}))
    assert load_bundle(folder, verification=verifying("RS256", keys["RS256"][1])).revision
    nameless = jwt.PyJWS().encode(json.dumps({"files": listed}).encode(), key, "RS256", headers={"typ": None})
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [nameless]}))
    with pytest.raises(BundleError, match="names no key id"):
        load_bundle(folder, verification=verifying("RS256", keys["RS256"][1]))


def test_the_scope_must_match_exactly(tmp_path, cli, keys):
    folder = signed_copy(tmp_path, cli, keys["HS256"][0], "HS256", "--scope", "write")
    assert segments(token_of(folder))[1]["scope"] == "write"
    assert load_bundle(folder, verification=verifying("HS256", SECRET, bundle_scope="write")).revision
    keyed = verification_from_settings(Settings(bundle_keys={"ci": {"algorithm": "HS256", "key": SECRET, "scope": "write"}}))
    assert load_bundle(folder, verification=keyed).revision
    for expected in ("read", None):
        with pytest.raises(BundleError, match="scope 'write' is not the expected"):
            load_bundle(folder, verification=verifying("HS256", SECRET, bundle_scope=expected))


def test_the_algorithm_comes_from_the_key_never_the_token(tmp_path, keys):
    """The classic confusion: an HS256 token keyed with the RSA public key's PEM text."""
    folder = make_bundle(tmp_path)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    listed = [{"name": n, "hash": file_digest(n, c).hex(), "algorithm": "SHA-256"} for n, c in sorted(files.items())]
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"ci"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"files": listed}).encode()).rstrip(b"=")
    mac = hmac.new(keys["RS256"][1].encode(), header + b"." + body, hashlib.sha256).digest()
    forged = b".".join([header, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [forged]}))
    with pytest.raises(BundleError, match="alg value is not allowed"):
        load_bundle(folder, verification=verifying("RS256", keys["RS256"][1]))


def test_files_are_hashed_as_opa_hashes_them(tmp_path):
    """hash.go: structured files over compact JSON with sorted keys, numbers as written, no HTML escaping;
    `data.yml` and every other file over its bytes; YAML numbers as Go encodes float64."""
    pretty = b'{\n  "z": [1.50, 1e3, -0],\n  "a": {"y": "<&>\\u2028", "x": null, "w": true}\n}\n'
    compact = b'{"a":{"w":true,"x":null,"y":"<&>\\u2028"},"z":[1.50,1e3,-0]}'
    for name in (".manifest", "govern/data.json", "govern/data.yaml"):
        assert file_digest(name, pretty) == hashlib.sha256(compact).digest()
    assert file_digest("govern/data.yml", pretty) == hashlib.sha256(pretty).digest()
    assert file_digest("govern/policy.rego", b"package govern\n") == hashlib.sha256(b"package govern\n").digest()
    yaml_text = b"price: 1.50\nshots: 2.0\ntiny: 0.0000001\nname: qpu\n"
    assert file_digest("x/data.yaml", yaml_text) == hashlib.sha256(b'{"name":"qpu","price":1.5,"shots":2,"tiny":1e-7}').digest()
    assert file_digest(".manifest", b'{"revision": "quickbrownfaux"}', "SHA-512") == hashlib.sha512(b'{"revision":"quickbrownfaux"}').digest()


def test_reformatting_signed_json_keeps_the_signature_valid_and_changing_a_value_does_not(tmp_path, cli, keys):
    folder = signed_copy(tmp_path, cli, keys["HS256"][0], "HS256")
    limits = folder / "govern" / "limits" / "data.json"
    limits.write_text(json.dumps(json.loads(limits.read_text()), indent=4, sort_keys=False))
    assert load_bundle(folder, verification=verifying("HS256", SECRET)).revision
    limits.write_text(limits.read_text().replace("high", "low"))
    with pytest.raises(BundleError, match="govern/limits/data.json does not match its signed hash"):
        load_bundle(folder, verification=verifying("HS256", SECRET))


def test_weak_file_hashes_are_refused(tmp_path, keys):
    folder = make_bundle(tmp_path)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    listed = [{"name": n, "hash": hashlib.md5(c).hexdigest(), "algorithm": "MD5"} for n, c in sorted(files.items())]
    token = jwt.PyJWS().encode(json.dumps({"files": listed}).encode(), SECRET.encode(), "HS256", headers={"kid": "ci"})
    (folder / ".signatures.json").write_text(json.dumps({"signatures": [token]}))
    with pytest.raises(BundleError, match="hash algorithm 'MD5'; govern accepts SHA-224"):
        load_bundle(folder, verification=verifying("HS256", SECRET))


def test_a_folder_signature_opa_wrote_with_the_folder_in_front_verifies(tmp_path, monkeypatch, keys):
    """`opa sign --bundle policies` names files `policies/...`; OPA then verifies `--bundle policies` alike."""
    monkeypatch.chdir(tmp_path)
    folder = make_bundle(tmp_path / "policies")
    files = {f"policies/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (folder / ".signatures.json").write_bytes(sign_files(files, signing_key(SECRET, "HS256"), "HS256", key_id="ci"))
    assert load_bundle(Path("policies"), verification=verifying("HS256", SECRET)).revision
    assert load_bundle(Path("./policies/"), verification=verifying("HS256", SECRET)).revision
    with pytest.raises(BundleError, match="not covered by the bundle signature"):
        load_bundle(folder, verification=verifying("HS256", SECRET))


@pytest.mark.parametrize("bundle_keys, problem", [
    ({"ci": {"algorithm": "HS256", "key": "short"}}, "below the minimum recommended length of 32 bytes"),
    ({"ci": {"algorithm": "RS256", "key": "not a pem"}}, "not a PEM public key or certificate"),
    ({"ci": {"algorithm": "ES256", "key": "RSA"}}, "the key does not fit the algorithm"),
])
def test_unusable_keys_are_refused_before_any_bundle_is_read(keys, bundle_keys, problem):
    if bundle_keys["ci"]["key"] == "RSA":
        bundle_keys["ci"]["key"] = keys["RS256"][1]
    with pytest.raises(BundleError, match=problem):
        verification_from_settings(Settings(bundle_keys=bundle_keys))


def test_a_configured_key_id_must_name_a_configured_key(keys):
    for bundle_keys in ({"ci": {"key": keys["RS256"][1]}}, {}):
        with pytest.raises(BundleError, match="GOVERN_BUNDLE_KEY_ID 'release' is not one of the keys"):
            verification_from_settings(Settings(bundle_keys=bundle_keys, bundle_key_id="release"))


def test_a_secret_never_reaches_repr_errors_or_output(tmp_path, cli, keys, monkeypatch):
    settings = settings_for("HS256", SECRET)
    assert SECRET not in repr(settings) and SECRET not in repr(verification_from_settings(settings))
    folder = signed_copy(tmp_path, cli, "another-secret-that-is-long-enough-for-hs256", "HS256")
    with pytest.raises(BundleError) as refused:
        load_bundle(folder, verification=verification_from_settings(settings))
    assert SECRET not in str(refused.value)
    monkeypatch.setenv("GOVERN_BUNDLE_KEYS", json.dumps({"ci": {"algorithm": "HS256", "key": SECRET}}))
    result = cli("policy", "list", "--bundle", folder)
    assert result.exit_code == 2 and "does not verify with key 'ci'" in result.output and SECRET not in result.output
    monkeypatch.setenv("GOVERN_BUNDLE_KEYS", json.dumps({"ci": SECRET}))
    result = cli("policy", "list")
    assert result.exit_code == 2 and "invalid settings" in result.output and SECRET not in result.output


def test_the_cli_refuses_a_tampered_bundle_everywhere_it_loads_one(tmp_path, cli, keys, monkeypatch):
    folder = signed_copy(tmp_path, cli, keys["HS256"][0], "HS256")
    monkeypatch.setenv("GOVERN_BUNDLE_KEYS", json.dumps({"ci": {"algorithm": "HS256", "key": SECRET}}))
    assert cli("policy", "list", "--bundle", folder).exit_code == 0
    edit(folder)
    for command in ("list", "check", "test"):
        result = cli("policy", command, "--bundle", folder)
        flat = result.output.replace("\n", "")
        assert result.exit_code == 2 and "govern/policy.rego does not match its signed hash" in flat, command
        assert "Traceback" not in flat
    checked = cli("check", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--bundle", folder, "-f", "json")
    finding = json.loads(checked.output)["results"][0]["decision"]["deny"][0]
    assert checked.exit_code == 1 and finding["rule"] == "GOV-ENGINE" and "does not match its signed hash" in finding["message"]


@pytest.mark.parametrize("options, problem", [
    (("--signing-key", "/nowhere/key.pem"), "neither PEM text nor a file that exists"),
    (("--signing-key", "short", "--signing-alg", "HS256"), "below the minimum recommended length"),
    (("--signing-key", "KEY", "--signing-alg", "HS256"), "the key does not fit the algorithm"),
    (("--signing-key", "x", "--signing-alg", "none"), "Invalid value for '--signing-alg'"),
])
def test_policy_sign_refuses_unusable_keys_with_exit_two(tmp_path, cli, keys, options, problem):
    options = tuple(keys["RS256"][0] if o == "KEY" else o for o in options)
    result = cli("policy", "sign", make_bundle(tmp_path), *options)
    assert result.exit_code == 2 and problem in result.output.replace("\n", "") and "Traceback" not in result.output


def test_policy_sign_refuses_a_bundle_govern_would_refuse_and_writes_where_told(tmp_path, cli, keys):
    broken = make_bundle(tmp_path / "broken")
    (broken / "govern" / "elsewhere.rego").write_text("package other\n")
    result = cli("policy", "sign", broken, "--signing-key", keys["RS256"][0])
    assert result.exit_code == 2 and "do not permit package other" in result.output.replace("\n", "")
    folder = make_bundle(tmp_path / "good")
    written = tmp_path / "out" / "sig.json"
    written.parent.mkdir()
    assert cli("policy", "sign", folder, "--signing-key", keys["RS256"][0], "--output", written).exit_code == 0
    assert not (folder / ".signatures.json").exists() and list(json.loads(written.read_text())) == ["signatures"]


@pytest.mark.slow
def test_the_service_loads_and_reloads_only_verified_bundles(tmp_path, cli, keys):
    from tests.api.test_api import auth, example, token_for

    folder = shutil.copytree(ROOT / "policies", tmp_path / "policies")
    assert cli("policy", "sign", folder, "--signing-key", keys["RS256"][0], "--key-id", "ci").exit_code == 0

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'govern.db'}", migrate_on_start=True, bundle=folder,
                        bundle_keys={"ci": {"key": keys["RS256"][1]}})
    with TestClient(create_app(settings)) as client:
        admin = auth(token_for(client, "admin", "ops"))
        before = client.get("/v1/policy", headers=admin).json()["bundle_revision"]
        assert before == load_bundle(folder, verification=verifying("RS256", keys["RS256"][1])).revision
        lib = folder / "govern" / "lib.rego"
        lib.write_text(lib.read_text() + "\n# edited after signing\n")
        refused = client.post("/v1/policy/reload", headers=admin)
        assert refused.status_code == 422 and "does not match its signed hash" in refused.json()["detail"]
        assert client.get("/v1/policy", headers=admin).json()["bundle_revision"] == before
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/policy", headers=auth(token_for(client, "admin", "ops"))).status_code == 503
        manifest, circuit = example("bell-local")
        checked = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(token_for(client, "submitter", "platform-qa")))
        assert checked.status_code == 403 and "govern/lib.rego does not match its signed hash" in checked.json()["detail"]


def test_the_configured_loader_passes_keys_and_policy_dirs(tmp_path, cli, keys):
    folder = signed_copy(tmp_path, cli, keys["HS256"][0], "HS256")
    assert load_configured_bundle(settings_for("HS256", SECRET, bundle=folder)).revision
    with pytest.raises(BundleError, match="not signed"):
        load_configured_bundle(settings_for("HS256", SECRET))


@pytest.mark.slow
@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("openssl", "jq", "tar")), reason="needs openssl, jq and tar")
def test_the_documented_signing_example_runs_as_written(tmp_path, cli):
    readme = (ROOT / "docs" / "policies.md").read_text()
    script = re.search(r"<!-- signing -->\n```sh\n(.*?)\n```", readme, re.DOTALL).group(1)
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    env.pop("GOVERN_BUNDLE_KEYS", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    from_folder = cli("check", str(EXAMPLES), "--context", str(EXAMPLES / "context.yaml"), "--now", EXAMPLES_NOW)
    assert result.returncode == 1, result.stdout + result.stderr
    assert from_folder.output.strip().splitlines()[-1] in result.stdout
