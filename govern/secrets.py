"""Finding secrets wherever they are in a manifest or a circuit, so they are redacted before anything is hashed,
logged or stored: the decision log is append-only and hash-chained, so a secret that got in could never be taken out.

Every string of a document, keys included, is joined into one text and searched once: the token formats of
gitleaks and detect-secrets that matter to this audience (each tried only when its literal prefix occurs), then
long base64-like tokens, which are secrets when their context names the service (AWS, IBM Cloud, Azure) or when
they look random (`looks_random`). A finding names the field (for a circuit also line:col) and the kind, never
the value; the value's secret part is replaced by `[REDACTED:kind]`. Hand-written rather than detect-secrets:
its line scanner costs about 30 ms per example manifest against a budget of 0.3 ms (benchmarks/bench_secrets.py).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SEPARATOR = "\x00"
"""Joins a document's strings: no pattern matches across it."""


def marker(kind: str) -> str:
    """What replaces a secret: `[REDACTED:kind]`, but a URL's credentials become `REDACTED`, so that it stays a URL."""
    return "REDACTED" if kind == "url_password" else f"[REDACTED:{kind}]"


@dataclass(frozen=True)
class Format:
    kind: str
    label: str
    keywords: tuple[str, ...]
    """Text every match contains one of (lower-case where the pattern ignores case): the pattern runs only on a
    text that holds one, which keeps the search of an ordinary manifest to a few substring tests."""
    pattern: re.Pattern[str]
    ignore_case: bool = False


def _format(kind: str, label: str, keywords: str, pattern: str, ignore_case: bool = False) -> Format:
    return Format(kind, label, tuple(keywords.split()), re.compile(pattern), ignore_case)


FORMATS: tuple[Format, ...] = (
    _format("pem_private_key", "a PEM private key", "-----BEGIN",
            r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[^\x00]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|[^\x00]*)"),
    _format("aws_access_key_id", "an AWS access key id", "AKIA ASIA A3T ABIA ACCA",
            r"(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    _format("github_token", "a GitHub token", "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
    _format("gitlab_token", "a GitLab token", "gl GR1348941",
            r"(?<![A-Za-z0-9_-])(?:gl(?:pat|dt|ft|soat|rt|oas|agent|imt|ptt|ffct|cbt)-[A-Za-z0-9_.-]{20,}"
            r"|GR1348941[A-Za-z0-9_-]{20,})"),
    _format("slack_token", "a Slack token", "xox xapp-",
            r"(?<![A-Za-z0-9])(?:(?:xoxe\.)?xox[abeoprs]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})"),
    _format("slack_webhook", "a Slack webhook URL", "hooks.slack.com",
            r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,}"),
    _format("google_api_key", "a Google API key", "AIza", r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _format("google_oauth_secret", "a Google OAuth client secret", "GOCSPX-", r"GOCSPX-[A-Za-z0-9_-]{28}"),
    _format("pypi_token", "a PyPI API token", "pypi-AgE",
            r"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}"),
    _format("jwt", "a JSON Web Token", "eyJ",
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}={0,2}\.eyJ[A-Za-z0-9_-]{10,}={0,2}\.[A-Za-z0-9_-]*={0,2}"),
    _format("azure_connection_string", "an Azure connection-string key", "Key=",
            r"(?:AccountKey|SharedAccessKey|AccessKey)=[A-Za-z0-9+/]{20,}={0,2}"),
    _format("connection_string_password", "a password in a connection string", "password= pwd=",
            r"(?i:password|pwd)=(?![$<{%*])[^;\s\x00\"'&]{6,}", ignore_case=True),
    _format("url_password", "a URL with an embedded password", "://",
            r"(?<=://)[^\s/:@\x00]{1,256}:(?![$<{*])[^\s/@\x00]{1,256}(?=@)"),
    _format("stripe_key", "a Stripe API key", "sk_ rk_", r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,}"),
    _format("openai_api_key", "an OpenAI API key", "T3BlbkFJ",
            r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    _format("anthropic_api_key", "an Anthropic API key", "sk-ant-", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}"),
    _format("huggingface_token", "a Hugging Face token", "hf_", r"(?<![A-Za-z0-9_])hf_[A-Za-z]{34}(?![A-Za-z0-9])"),
    _format("npm_token", "an npm access token", "npm_", r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    _format("govern_token", "a govern API token", "gov_", r"(?<![A-Za-z0-9_])gov_[A-Za-z0-9_-]{40,}"),
)

KEYWORDS = tuple((keyword, index, f.ignore_case) for index, f in enumerate(FORMATS) for keyword in f.keywords)
TOKEN = re.compile(r"(?<![A-Za-z0-9+/_~.-])[A-Za-z0-9+/_~.-]{20,}={0,2}")
"""Long base64-, hex- or url-safe runs: the candidates for the context and high-entropy rules."""
AZURE_CLIENT_SECRET = re.compile(r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}")
HEX = re.compile(r"[0-9a-fA-F]+")
UUID_LIKE = re.compile(r"[0-9a-fA-F-]+")
BASE64_40 = re.compile(r"[A-Za-z0-9+/]{40}")
URLSAFE_44 = re.compile(r"[A-Za-z0-9_-]{44}")
BASE64_88 = re.compile(r"[A-Za-z0-9+/]{86}==")
DIGEST = re.compile(r"(?i)(?:sha|md)\d{1,3}[-:=]")
DIGEST_BEFORE = re.compile(DIGEST.pattern + "$")
"""An algorithm's name before a value marks it a digest (`sha512-…` integrity, `sha512:…`), not a key."""
WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")
VOWELS = frozenset("aeiouyAEIOUY")
CONTEXTS: tuple[tuple[str, str, re.Pattern[str], re.Pattern[str]], ...] = (
    ("aws_secret_access_key", "an AWS secret access key", BASE64_40, re.compile(r"aws")),
    ("ibm_cloud_api_key", "an IBM Cloud API key", URLSAFE_44, re.compile(r"ibm|iam|api.?key|bluemix|cloud")),
    ("azure_storage_key", "an Azure storage account key", BASE64_88, re.compile(r"azure|storage|account.?key")),
)
SHAPED_LENGTHS = frozenset((40, 44, 88, 128))
"""The lengths of the tokens recognised by shape (with context, or 128 hex) rather than by looking random."""
CONTEXT_CHARS = 64
"""How far before a token its context is read (within the same string), besides the field's path."""

HIGH_ENTROPY = ("high_entropy_token", "a long random-looking token")
CREDENTIAL_KEY = re.compile(
    r"(?i)(token|secret|password|passwd|pwd|passphrase|api[-_]?key|credential|private[-_]?key|access[-_]?key|key)s?$"
)
REFERENCE = re.compile(r"^(?:env:[A-Za-z_][A-Za-z0-9_]*|vault:[A-Za-z0-9_./#-]+)$")
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9+/=_.~-]{20,}$")
MIN_TOKEN_ENTROPY_BITS = 3.5
MIN_RANDOM_LENGTH = 24


@dataclass(frozen=True)
class SecretFinding:
    field: str
    kind: str
    label: str
    line: int | None = None
    column: int | None = None

    def as_input(self) -> dict[str, Any]:
        found: dict[str, Any] = {"field": self.field, "kind": self.kind, "label": self.label}
        if self.line is not None:
            found.update(line=self.line, column=self.column)
        return found


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    kind: str
    label: str


def entropy_bits(value: str) -> float:
    """Shannon entropy per character: random tokens score high, words and identifiers low."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_random(token: str) -> bool:
    """A token no person typed: long, all three character classes, not hex (digests, git SHAs, UUIDs), its letters
    less than 60% words (runs of three or more letters of one case with a vowel: identifiers, paths and camelCase
    are mostly words, random text rarely), near the entropy of random text of its length, and not base64 of
    printable text. Measured: it misses about 2% of random 40-character tokens (7% at 24; the known formats do
    not depend on it) and passes 0.01% of synthetic camelCase identifiers; tests/fixtures/secrets holds it to
    no false positive."""
    body = token.rstrip("=")
    if len(body) < MIN_RANDOM_LENGTH or HEX.fullmatch(body) or UUID_LIKE.fullmatch(body):
        return False
    if not (any(c.isupper() for c in body) and any(c.islower() for c in body) and any(c.isdigit() for c in body)):
        return False
    letters = WORD.findall(body)
    if sum(len(w) for w in letters if len(w) >= 3 and not VOWELS.isdisjoint(w)) >= 0.6 * sum(map(len, letters)):
        return False
    if entropy_bits(body) < min(4.0, 0.8 * math.log2(len(body))):
        return False
    return not _printable_base64(token)


def _printable_base64(token: str) -> bool:
    """Base64 of ordinary content (text, JSON) decodes to printable characters; a key decodes to noise."""
    body = token.replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data)
    return bool(data) and printable >= 0.9 * len(data)


def find(text: str, context: Callable[[int], str] | None = None) -> list[Hit]:
    """Every secret in the text, leftmost first; `context(start)` gives lower-case text naming what a token is for."""
    lowered = text.lower()
    present = {index for keyword, index, ignore_case in KEYWORDS if keyword in (lowered if ignore_case else text)}
    hits = [Hit(m.start(), m.end(), FORMATS[i].kind, FORMATS[i].label) for i in sorted(present) for m in FORMATS[i].pattern.finditer(text)]
    taken = _merged(hits)
    for m in TOKEN.finditer(text):
        start = m.start()
        token = m.group().rstrip(".")
        end = start + len(token)
        if _overlaps(taken, start, end):
            continue
        hit = _classify(token, start, end, text, context)
        if hit is not None:
            hits.append(hit)
    return sorted(hits, key=lambda h: h.start)


def _merged(hits: list[Hit]) -> tuple[list[int], list[int]]:
    """The spans the hits cover, as sorted starts and ends of disjoint intervals."""
    starts: list[int] = []
    ends: list[int] = []
    for hit in sorted(hits, key=lambda h: h.start):
        if ends and hit.start < ends[-1]:
            ends[-1] = max(ends[-1], hit.end)
        else:
            starts.append(hit.start)
            ends.append(hit.end)
    return starts, ends


def _overlaps(taken: tuple[list[int], list[int]], start: int, end: int) -> bool:
    starts, ends = taken
    index = bisect.bisect_left(starts, end) - 1
    return index >= 0 and ends[index] > start


def _classify(token: str, start: int, end: int, text: str, context: Callable[[int], str] | None) -> Hit | None:
    if len(token) not in SHAPED_LENGTHS and (token.islower() or token.isupper()) and "Q~" not in token:
        return None  # the common case, paths and names: no rule below could match
    if AZURE_CLIENT_SECRET.fullmatch(token):
        return Hit(start, end, "azure_client_secret", "an Azure AD client secret")
    if DIGEST.match(token) or DIGEST_BEFORE.search(text, max(0, start - 8), start):
        return None
    if len(token) == 128 and HEX.fullmatch(token):
        return Hit(start, end, "ibm_quantum_token", "an IBM Quantum API token")
    for kind, label, shape, near in CONTEXTS:
        near_text = context(start) if context else text[max(0, start - CONTEXT_CHARS):start].lower()
        if shape.fullmatch(token) and near.search(near_text) and entropy_bits(token) >= MIN_TOKEN_ENTROPY_BITS:
            return Hit(start, end, kind, label)
    if looks_random(token):
        return Hit(start, end, *HIGH_ENTROPY)
    return None


def redact_text(text: str, hits: list[Hit]) -> str:
    """The text with each hit's span replaced by its marker (overlapping spans merged)."""
    parts, position = [], 0
    for hit in hits:
        if hit.end <= position:
            continue
        parts.append(text[position:max(position, hit.start)])
        parts.append(marker(hit.kind))
        position = hit.end
    parts.append(text[position:])
    return "".join(parts)


Entry = tuple[int, str | int, str, str | None, bool]
"""One string of a document: (its container, its key or index, its text, the key of a value (None for a key or
a list item), whether it is under spec.credentials)."""


def _strings(document: Any, path: str) -> tuple[list[Entry], list[tuple[int, str | int, str]]]:
    """Every key and string value of the document, and its containers as (parent, key or index, path)."""
    found: list[Entry] = []
    containers: list[tuple[int, str | int, str]] = [(-1, path, path)]
    pending = [(document, 0)]
    while pending:
        node, container = pending.pop()
        at = containers[container][2]
        if isinstance(node, dict):
            under = at == "spec.credentials"
            for key, value in node.items():
                key = str(key)
                found.append((container, key, key, None, False))
                if isinstance(value, str):
                    found.append((container, key, value, key, under))
                elif isinstance(value, (dict, list)):
                    containers.append((container, key, _join(at, key)))
                    pending.append((value, len(containers) - 1))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    found.append((container, index, item, None, False))
                elif isinstance(item, (dict, list)):
                    containers.append((container, index, _join(at, index)))
                    pending.append((item, len(containers) - 1))
    return found, containers


def _join(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def _fields(containers: list[tuple[int, str | int, str]], keys: dict[str, str]) -> list[str]:
    """Each container's path with its keys redacted (containers come after their parents)."""
    fields: list[str] = []
    for parent, name, path in containers:
        fields.append(path if parent < 0 else _join(fields[parent], keys.get(name, name) if isinstance(name, str) else name))
    return fields


def redacted(document: Any, path: str = "") -> tuple[Any, list[SecretFinding]]:
    """The document with every secret replaced by its marker (the same object when it holds none), and the
    findings by field path; a secret in a key is replaced in the key and in the path of every field under it."""
    entries, containers = _strings(document, path)
    texts = [entry[2] for entry in entries]
    joined = SEPARATOR.join(texts)
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 1

    def context(at: int) -> str:
        index = bisect.bisect_right(starts, at) - 1
        where = _join(containers[entries[index][0]][2], entries[index][1])
        return where.lower() + " " + joined[max(starts[index], at - CONTEXT_CHARS):at].lower()

    by_entry: dict[int, list[Hit]] = {}
    for hit in find(joined, context):
        index = bisect.bisect_right(starts, hit.start) - 1
        start = starts[index]
        by_entry.setdefault(index, []).append(Hit(hit.start - start, hit.end - start, hit.kind, hit.label))
    for index, (_, _, text, key, under) in enumerate(entries):
        if key is not None and len(text) >= 20 and index not in by_entry and (under or CREDENTIAL_KEY.search(key)) and _literal_token(text):
            by_entry[index] = [Hit(0, len(text), "high_entropy_token", "a literal token-like value in a credential field")]
    if not by_entry:
        return document, []
    replacements = {entries[i][2]: redact_text(entries[i][2], hits) for i, hits in by_entry.items()}
    fields = _fields(containers, replacements)
    findings: dict[tuple[str, str], SecretFinding] = {}
    for index, hits in sorted(by_entry.items()):
        container, name = entries[index][0], entries[index][1]
        field = _join(fields[container], replacements.get(name, name) if isinstance(name, str) else name)
        for hit in hits:
            findings.setdefault((field, hit.kind), SecretFinding(field, hit.kind, hit.label))
    return _replace(document, replacements), list(findings.values())


def _literal_token(value: str) -> bool:
    return not REFERENCE.match(value) and bool(TOKEN_SHAPE.match(value)) and entropy_bits(value) >= MIN_TOKEN_ENTROPY_BITS


def _replace(document: Any, replacements: dict[str, str]) -> Any:
    if isinstance(document, dict):
        return {replacements.get(str(k), k): _replace(v, replacements) for k, v in document.items()}
    if isinstance(document, list):
        return [_replace(item, replacements) for item in document]
    if isinstance(document, str):
        return replacements.get(document, document)
    return document


def scan(document: Any, path: str = "") -> list[SecretFinding]:
    """Every secret in the document, by dotted field path (`spec.credentials.token`) and kind."""
    return redacted(document, path)[1]


QASM_FREE_TEXT = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)|\"[^\"\n]*\"|'[^'\n]*'", re.DOTALL)
"""Where a circuit holds free text: line and block comments, and string literals (include paths, pragmas)."""


def redacted_circuit(text: str, field: str) -> tuple[str, list[SecretFinding]]:
    """The circuit with every secret in its comments and string literals replaced by its marker (the code is
    unchanged, so it parses the same), and the findings as `field:line:col`."""
    segments = list(QASM_FREE_TEXT.finditer(text))
    starts, offset = [], 0
    for segment in segments:
        starts.append(offset)
        offset += segment.end() - segment.start() + 1
    hits = []
    for hit in find(SEPARATOR.join(segment.group() for segment in segments)):
        index = bisect.bisect_right(starts, hit.start) - 1
        shift = segments[index].start() - starts[index]
        hits.append(Hit(hit.start + shift, hit.end + shift, hit.kind, hit.label))
    if not hits:
        return text, []
    findings: dict[tuple[int, int, str], SecretFinding] = {}
    for hit in hits:
        line = text.count("\n", 0, hit.start) + 1
        column = hit.start - (text.rfind("\n", 0, hit.start) + 1) + 1
        findings.setdefault((line, column, hit.kind), SecretFinding(f"{field}:{line}:{column}", hit.kind, hit.label, line, column))
    return redact_text(text, hits), list(findings.values())
