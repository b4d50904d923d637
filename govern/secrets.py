"""Finding secret values in a manifest, so they can be redacted before anything records the input.

The scan runs before evaluation: the engine, the decision and (later) the decision log and lineage only
ever see `[redacted]` and a finding naming the field and the kind of secret. The policy (SEC-001)
decides what a finding means. detect-secrets was considered; its line scanner is built for source files,
flags ordinary prose as high-entropy and costs about 0.5 ms per field, which the per-decision budget
cannot carry, so the few formats that matter are matched here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"

KNOWN_FORMATS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("pem_private_key", "a PEM private key", re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----")),
    ("aws_access_key_id", "an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("github_token", "a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("slack_token", "a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("slack_webhook", "a Slack webhook URL", re.compile(r"https://hooks\.slack\.com/services/T\w+/B\w+/\w+")),
    ("google_api_key", "a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("govern_token", "a govern API token", re.compile(r"\bgov_[A-Za-z0-9_-]{40,}")),
    ("url_password", "a URL with an embedded password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)
CREDENTIAL_KEY = re.compile(
    r"(?i)(token|secret|password|passwd|pwd|passphrase|api[-_]?key|credential|private[-_]?key|access[-_]?key|key)s?$"
)
REFERENCE = re.compile(r"^(?:env:[A-Za-z_][A-Za-z0-9_]*|vault:[A-Za-z0-9_./#-]+)$")
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9+/=_.~-]{20,}$")
MIN_TOKEN_ENTROPY_BITS = 3.5


@dataclass(frozen=True)
class SecretFinding:
    field: str
    kind: str
    label: str

    def as_input(self) -> dict[str, str]:
        return {"field": self.field, "kind": self.kind, "label": self.label}


def entropy_bits(value: str) -> float:
    """Shannon entropy per character: random tokens score high, words and identifiers low."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def classify(key: str, value: str, under_credentials: bool) -> tuple[str, str] | None:
    for kind, label, pattern in KNOWN_FORMATS:
        if pattern.search(value):
            return kind, label
    credential_like = under_credentials or bool(CREDENTIAL_KEY.search(key))
    if (
        credential_like
        and not REFERENCE.match(value)
        and TOKEN_SHAPE.match(value)
        and entropy_bits(value) >= MIN_TOKEN_ENTROPY_BITS
    ):
        return "high_entropy_token", "a literal token-like value in a credential field"
    return None


def scan(document: Any, path: str = "") -> list[SecretFinding]:
    """Every string in the document that looks like a secret, by dotted path (`spec.credentials.token`)."""
    found: list[SecretFinding] = []
    if isinstance(document, dict):
        for key, value in document.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, str):
                hit = classify(str(key), value, path == "spec.credentials")
                if hit:
                    found.append(SecretFinding(child, *hit))
            else:
                found.extend(scan(value, child))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            child = f"{path}[{index}]"
            if isinstance(item, str):
                hit = classify("", item, False)
                if hit:
                    found.append(SecretFinding(child, *hit))
            else:
                found.extend(scan(item, child))
    return found


def redact(document: Any, fields: set[str], path: str = "") -> Any:
    """A copy of the document with the values at the given paths replaced by `[redacted]`."""
    if isinstance(document, dict):
        return {
            key: REDACTED if (child := f"{path}.{key}" if path else str(key)) in fields else redact(value, fields, child)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [
            REDACTED if f"{path}[{index}]" in fields else redact(item, fields, f"{path}[{index}]")
            for index, item in enumerate(document)
        ]
    return document
