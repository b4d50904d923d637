"""The secret corpora of tests/fixtures/secrets: fake secrets expanded from format templates, and ordinary text."""

from __future__ import annotations

import base64
import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "secrets"
PLACEHOLDER = re.compile(r"\{(\w+)(?::(\d+))?\}")
ALPHABETS = {
    "a62": string.ascii_letters + string.digits,
    "url": string.ascii_letters + string.digits + "-_",
    "hex": "0123456789abcdef",
    "b32": string.ascii_uppercase + "234567",
    "digits": string.digits,
    "letters": string.ascii_letters,
    "upper": string.ascii_uppercase,
}


@dataclass(frozen=True)
class Fake:
    kind: str
    text: str
    secrets: tuple[str, ...]
    """The expanded placeholders (each line of a multi-line one): none may reach a sink."""


def positives(seed: int = 11) -> list[Fake]:
    rng = random.Random(seed)
    fakes = []
    for entry in yaml.safe_load((FIXTURES / "positives.yaml").read_text()):
        parts: list[str] = []

        def expand(match: re.Match[str], parts: list[str] = parts) -> str:
            value = _fake(rng, match.group(1), int(match.group(2) or 0))
            parts.extend(line for line in re.split(r"\n|\\n|\.", value) if len(line) >= 12)
            return value

        fakes.append(Fake(entry["kind"], PLACEHOLDER.sub(expand, entry["text"]), tuple(parts)))
    return fakes


def _fake(rng: random.Random, name: str, length: int) -> str:
    def b64(size: int) -> str:
        return base64.b64encode(rng.randbytes(size)).decode()

    if name in ALPHABETS:
        return "".join(rng.choice(ALPHABETS[name]) for _ in range(length))
    if name == "b64":
        return b64(length)
    if name in ("pem", "pemjson"):
        return ("\n" if name == "pem" else "\\n").join(b64(48) for _ in range(length))
    if name == "jwt":
        def part(claims: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

        signature = "".join(rng.choice(ALPHABETS["url"]) for _ in range(43))
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': 'fake', 'iat': rng.randrange(2**31)})}.{signature}"
    raise ValueError(f"unknown placeholder {name!r}")


def negatives() -> list[str]:
    return [text for group in yaml.safe_load((FIXTURES / "negatives.yaml").read_text()).values() for text in group]
