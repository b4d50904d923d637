"""Bundle signatures exactly as OPA writes and checks them: `.signatures.json` holds one JWS whose payload lists
every file of the bundle with its hash.

This follows OPA's `v1/bundle` (`verify.go`, `hash.go`, `sign.go`, `keys.go`), so that `opa sign` output
verifies here and ours in OPA: the key id comes from configuration, else the token's `kid`, else its deprecated
`keyid` claim; the algorithm is the configured key's, never the token's; the scope must match exactly;
`.manifest`, `data.json` and `data.yaml` are hashed over their parsed JSON with object keys sorted and numbers
as written (so whitespace and key order do not matter), every other file over its bytes. Where OPA is
lenient govern refuses: MD5 and SHA-1 file hashes, keys below the recommended length, signature plugins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govern.policy.archive import BundleError, ExactNumber, parse_document

if TYPE_CHECKING:
    from govern.settings import Settings

SIGNATURES_FILE = ".signatures.json"
STRUCTURED_FILES = frozenset({"data.json", "data.yaml", ".manifest"})
"""OPA's IsStructuredDoc; `data.yml` is loaded like `data.yaml` but hashed over its bytes."""
FILE_HASHES = {"SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512",
               "SHA-512-224": "sha512_224", "SHA-512-256": "sha512_256"}
SIGNING_HASH = "SHA-256"

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


@cache
def _jws() -> Any:
    """PyJWT's JWS, imported on first use: most runs never meet a signature, and the import takes 0.1 s."""
    import jwt

    return jwt.PyJWS(options={"enforce_minimum_key_length": True})


@dataclass(frozen=True)
class VerificationKey:
    algorithm: str
    key: Any = field(repr=False)
    scope: str = ""


@dataclass(frozen=True)
class Verification:
    """OPA's `keys` and a bundle's `signing` config: which keys may sign, and the key id and scope to expect."""

    keys: Mapping[str, VerificationKey]
    key_id: str = ""
    scope: str = ""


def verification_from_settings(settings: Settings) -> Verification | None:
    """The configured verification keys, parsed now so that a bad key is reported before any bundle is read."""
    if settings.bundle_key_id is not None and settings.bundle_key_id not in settings.bundle_keys:
        raise BundleError(f"GOVERN_BUNDLE_KEY_ID {settings.bundle_key_id!r} is not one of the keys in GOVERN_BUNDLE_KEYS")
    if not settings.bundle_keys:
        return None
    keys = {
        key_id: VerificationKey(entry.algorithm, _public_key(key_id, entry.algorithm, entry.key.get_secret_value()), entry.scope or "")
        for key_id, entry in settings.bundle_keys.items()
    }
    return Verification(keys, settings.bundle_key_id or "", settings.bundle_scope or "")


def _public_key(key_id: str, algorithm: str, text: str) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    where = f"bundle key {key_id!r} ({algorithm})"
    if algorithm.startswith("HS"):
        return _prepared(algorithm, text.encode(), where)
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        try:
            key = x509.load_pem_x509_certificate(text.encode()).public_key()
        except ValueError:
            raise BundleError(f"{where}: not a PEM public key or certificate") from None
    return _prepared(algorithm, key, where)


def _prepared(algorithm: str, key: Any, where: str) -> Any:
    """The key as PyJWT will use it, refused now when it does not fit the algorithm or is too short."""
    from jwt import PyJWTError

    try:
        algorithm_object = _jws().get_algorithm_by_name(algorithm)
        prepared = algorithm_object.prepare_key(key)
    except (PyJWTError, TypeError, ValueError, NotImplementedError) as exc:
        raise BundleError(f"{where}: the key does not fit the algorithm ({exc})") from None
    problem = algorithm_object.check_key_length(prepared)
    if problem:
        raise BundleError(f"{where}: {problem}")
    return prepared


def verify_bundle(files: Mapping[str, bytes], signatures: bytes | None, verification: Verification | None,
                  source: str, folder: str = "") -> None:
    """Refuse the bundle unless it is unsigned with no keys configured, or its signature and every file's hash
    verify. `folder` is a bundle folder as given: `opa sign --bundle DIR` names files `DIR/...`."""
    if signatures is None:
        if verification is not None:
            raise BundleError(f"{source}: bundle is not signed (no {SIGNATURES_FILE}), but bundle keys are configured")
        return
    if verification is None:
        raise BundleError(f"{source}: bundle is signed but no key to verify it is configured (GOVERN_BUNDLE_KEYS)")
    payload = _verified_payload(_token(signatures, source), verification, source)
    listed = _listed_files(payload, source, _opa_folder_prefix(folder), set(files))
    for name, content in files.items():
        if name not in listed:
            raise BundleError(f"{source}: {name} is not covered by the bundle signature (added after signing?)")
        algorithm, expected = listed.pop(name)
        try:
            digest = file_digest(name, content, algorithm)
        except BundleError as exc:
            raise BundleError(f"{source}: {exc}") from None
        if not hmac.compare_digest(digest, expected):
            raise BundleError(f"{source}: {name} does not match its signed hash (edited after signing?)")
    if listed:
        raise BundleError(f"{source}: signed file(s) missing from the bundle: {', '.join(sorted(listed))}")


def _token(signatures: bytes, source: str) -> str:
    document = parse_document(signatures, f"{source}: {SIGNATURES_FILE}", yaml=False)
    if not isinstance(document, dict) or not isinstance(document.get("signatures"), list):
        raise BundleError(f'{source}: {SIGNATURES_FILE} must be {{"signatures": ["<JWS>"]}}')
    if document.get("plugin"):
        raise BundleError(f"{source}: {SIGNATURES_FILE} names signature plugin {document['plugin']!r}, which govern does not have")
    tokens = document["signatures"]
    if len(tokens) != 1 or not isinstance(tokens[0], str):
        raise BundleError(f"{source}: {SIGNATURES_FILE} must hold exactly one JWS (it holds {len(tokens)})")
    return tokens[0]


def _verified_payload(token: str, verification: Verification, source: str) -> dict[str, Any]:
    """The payload, once the JWS verifies with the key chosen as OPA chooses it (config, `kid`, `keyid`)."""
    from jwt import PyJWTError
    from jwt.utils import base64url_decode

    try:
        header = _jws().get_unverified_header(token)
        unverified = _claims(base64url_decode(token.split(".")[1]), source)
    except (PyJWTError, ValueError, IndexError) as exc:
        raise BundleError(f"{source}: the bundle signature is not a well-formed JWS ({exc})") from None
    key_id = verification.key_id or _text(header.get("kid")) or unverified.get("keyid", "")
    if not key_id:
        raise BundleError(f"{source}: the bundle signature names no key id (kid) and none is configured")
    key = verification.keys.get(key_id)
    if key is None:
        raise BundleError(f"{source}: the bundle is signed with key id {key_id!r}, which is not configured")
    try:
        claims = _claims(_jws().decode_complete(token, key.key, algorithms=[key.algorithm])["payload"], source)
    except PyJWTError as exc:
        raise BundleError(f"{source}: the bundle signature does not verify with key {key_id!r} ({key.algorithm}): {exc}") from None
    scope = verification.scope or key.scope
    if claims.get("scope", "") != scope:
        raise BundleError(f"{source}: the bundle signature's scope {claims.get('scope', '')!r} is not the expected {scope!r}")
    return claims


def _claims(raw: bytes, source: str) -> dict[str, Any]:
    """The payload as OPA decodes it into its DecodedSignature: an object whose string claims are strings."""
    claims = parse_document(raw, f"{source}: the bundle signature's payload", yaml=False)
    if not isinstance(claims, dict):
        raise BundleError(f"{source}: the bundle signature's payload is not a JSON object")
    for name in ("keyid", "scope", "iss"):
        if not isinstance(claims.get(name, ""), str):
            raise BundleError(f"{source}: the bundle signature's {name!r} claim is not a string")
    return claims


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _listed_files(payload: dict[str, Any], source: str, prefix: str, present: set[str]) -> dict[str, tuple[str, bytes]]:
    """name -> (hash algorithm, digest) from the payload. Names are bundle-relative; a folder signature
    `opa sign` wrote with the folder's path in front is read the same way."""
    entries = payload.get("files")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BundleError(f"{source}: the bundle signature's payload has no list of files")
    names = [_text(e.get("name")) for e in entries]
    if prefix and all(n.startswith(prefix) for n in names) and {n[len(prefix):] for n in names} == present:
        names = [n[len(prefix):] for n in names]
    listed: dict[str, tuple[str, bytes]] = {}
    for name, entry in zip(names, entries, strict=True):
        algorithm, digest = _text(entry.get("algorithm")), _text(entry.get("hash"))
        if algorithm not in FILE_HASHES:
            raise BundleError(f"{source}: {name}: signed with hash algorithm {algorithm!r}; govern accepts {', '.join(FILE_HASHES)}")
        if not name or name in listed or not _HEX.fullmatch(digest):
            raise BundleError(f"{source}: the bundle signature lists {name!r} twice, unnamed, or with a malformed hash")
        listed[name] = (algorithm, bytes.fromhex(digest))
    return listed


def _opa_folder_prefix(folder: str) -> str:
    cleaned = posixpath.normpath(folder).lstrip("/") if folder else "."
    return "" if cleaned == "." else cleaned + "/"


def file_digest(name: str, content: bytes, algorithm: str = SIGNING_HASH) -> bytes:
    """A file's hash as OPA computes it (hash.go): structured files over their normalized JSON, others raw."""
    digest = hashlib.new(FILE_HASHES[algorithm])
    if posixpath.basename(name) in STRUCTURED_FILES:
        _hash_value(_structured(name, content), digest)
    else:
        digest.update(content)
    return digest.digest()


def _structured(name: str, content: bytes) -> Any:
    """OPA's util.Unmarshal: JSON when the bytes are JSON (numbers as written), else YAML, whose numbers Go
    re-encodes as float64 or int text."""
    return _go_numbers(parse_document(content, name, yaml=True, exact_numbers=True))


def _go_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return ExactNumber(value if isinstance(value, int) else _go_float(value))


def _go_float(value: float) -> str:
    """Go encoding/json's float64 text: shortest digits, exponent form below 1e-6 and from 1e21."""
    if value and not 1e-6 <= abs(value) < 1e21:
        return repr(value).replace("e-0", "e-")
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _hash_value(value: Any, digest: Any) -> None:
    """hash.go's walk: objects with keys in order, arrays in order, primitives as Go's JSON encoder writes them."""
    if isinstance(value, dict):
        digest.update(b"{")
        for index, key in enumerate(sorted(value)):
            digest.update(b"," if index else b"")
            digest.update(_go_string(key) + b":")
            _hash_value(value[key], digest)
        digest.update(b"}")
    elif isinstance(value, list):
        digest.update(b"[")
        for index, item in enumerate(value):
            digest.update(b"," if index else b"")
            _hash_value(item, digest)
        digest.update(b"]")
    elif isinstance(value, ExactNumber):
        digest.update(value.encode())
    elif isinstance(value, str):
        digest.update(_go_string(value))
    else:
        digest.update(json.dumps(value).encode())


def _go_string(value: str) -> bytes:
    """Go's JSON string (HTML escaping off): like Python's, but U+2028/9 escaped and lone surrogates U+FFFD."""
    text = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    quoted = json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return quoted.encode()


def signing_key(value: str, algorithm: str) -> Any:
    """`--signing-key` read as `opa sign` reads it: PEM text, else a file, else (HMAC only) the secret itself."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = f"--signing-key ({algorithm})"
    if not value.startswith("-----BEGIN") and Path(value).is_file():
        try:
            value = Path(value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BundleError(f"{where}: cannot read the key file: {exc}") from None
    if algorithm.startswith("HS"):
        return _prepared(algorithm, value.encode(), where)
    if not value.startswith("-----BEGIN"):
        raise BundleError(f"{where}: neither PEM text nor a file that exists")
    try:
        key = load_pem_private_key(value.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{where}: not an unencrypted PEM private key ({exc})") from None
    return _prepared(algorithm, key, where)


def sign_files(files: Mapping[str, bytes], key: Any, algorithm: str, key_id: str = "", scope: str = "") -> bytes:
    """The `.signatures.json` for these files, as `opa sign` writes it (one JWS, `kid` in its header and the
    deprecated `keyid` claim when a key id is given)."""
    listed = [{"name": name, "hash": file_digest(name, content).hex(), "algorithm": SIGNING_HASH}
              for name, content in sorted(files.items()) if name != SIGNATURES_FILE]
    payload: dict[str, Any] = {"files": listed}
    if key_id:
        payload["keyid"] = key_id
    if scope:
        payload["scope"] = scope
    headers = {"typ": None, **({"kid": key_id} if key_id else {})}
    token = _jws().encode(json.dumps(payload, separators=(",", ":")).encode(), key, algorithm=algorithm, headers=headers)
    return json.dumps({"signatures": [token]}, indent=1).encode()
