"""The policy bundle on disk: an OPA bundle (`.manifest`, Rego modules, `data.json` files).

Loading reads every file once and fixes the bundle's revision as a content hash, so a decision can name
exactly the policies that produced it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

from govern.canonical import canonical_json
from govern.policy.annotations import RuleCatalogue, build_catalogue

ENTRYPOINT = "govern/decision"
AUTHZ_ENTRYPOINT = "govern/authz/decision"
TEST_SUFFIX = "_test.rego"

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)


class BundleError(Exception):
    """The bundle cannot be used; whoever holds it must fail closed."""


@dataclass(frozen=True)
class Module:
    path: str
    source: str

    @property
    def package(self) -> str:
        match = _PACKAGE.search(self.source)
        return match.group(1) if match else ""

    @property
    def is_test(self) -> bool:
        return self.path.endswith(TEST_SUFFIX)


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    manifest: dict[str, Any]
    modules: tuple[Module, ...]
    data: dict[str, Any] = field(repr=False)
    revision: str

    @property
    def manifest_revision(self) -> str:
        return str(self.manifest.get("revision", ""))

    @property
    def roots(self) -> list[str]:
        return list(self.manifest.get("roots", [""]))

    @property
    def policy_modules(self) -> tuple[Module, ...]:
        return tuple(m for m in self.modules if not m.is_test)

    @property
    def entrypoints(self) -> list[str]:
        """The decision entrypoint, and the authorization one when the bundle has an `authz` policy."""
        packages = {m.package for m in self.policy_modules}
        return [ENTRYPOINT] + ([AUTHZ_ENTRYPOINT] if "govern.authz" in packages else [])

    @property
    def test_modules(self) -> tuple[Module, ...]:
        return tuple(m for m in self.modules if m.is_test)

    @cached_property
    def rule_catalogue(self) -> RuleCatalogue:
        """The rules' METADATA annotations, parsed from the source: the one rule catalogue."""
        return build_catalogue((m.path, m.source) for m in self.policy_modules)

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        """Rule id → area, kind, severity, title, description, remediation, waivable."""
        return self.rule_catalogue.entries

    @cached_property
    def engine_data(self) -> dict[str, Any]:
        """The data document engines load: the bundle's data with the catalogue at `data.govern.catalogue`.

        The catalogue is derived from the annotations, so a bundle may not define it itself (it would be
        a second catalogue that can drift from the first).
        """
        govern = self.data.get("govern", {})
        if not isinstance(govern, dict):
            raise BundleError(f"policy bundle {self.root}: data.govern must be an object")
        if "catalogue" in govern and govern["catalogue"] != self.catalogue:
            raise BundleError(
                f"policy bundle {self.root}: data.govern.catalogue is derived from the rules' METADATA annotations; "
                "remove the catalogue data document"
            )
        return {**self.data, "govern": {**govern, "catalogue": self.catalogue}}

    @cached_property
    def data_json(self) -> str:
        return canonical_json(self.engine_data).decode()


def default_bundle_path() -> Path:
    """The bundle shipped in the wheel, or the source checkout's `policies/` in a development install."""
    packaged = Path(str(files("govern"))) / "_packaged" / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "policies"


def load_bundle(root: Path | None = None) -> PolicyBundle:
    root = Path(root) if root is not None else default_bundle_path()
    manifest_path = root / ".manifest"
    if not root.is_dir():
        raise BundleError(f"policy bundle not found: {root} is not a directory")
    if not manifest_path.is_file():
        raise BundleError(f"policy bundle {root} has no .manifest (revision and roots)")
    digest = hashlib.sha256()
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        modules: list[Module] = []
        data: dict[str, Any] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            if path.suffix not in {".rego", ".json"} and path.name != ".manifest":
                continue
            content = path.read_bytes()
            digest.update(relative.encode() + b"\0" + content + b"\0")
            if path.suffix == ".rego":
                modules.append(Module(relative, content.decode("utf-8")))
            elif path.name == "data.json":
                _mount(data, path.parent.relative_to(root).parts, json.loads(content), relative)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"policy bundle {root} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or "revision" not in manifest:
        raise BundleError(f"policy bundle {root}: .manifest must be a JSON object with a 'revision'")
    if not modules:
        raise BundleError(f"policy bundle {root} holds no Rego modules")
    return PolicyBundle(root, manifest, tuple(modules), data, f"sha256:{digest.hexdigest()}")


def _mount(data: dict[str, Any], parts: tuple[str, ...], value: Any, source: str) -> None:
    """Place a data.json document at its folder's path, as OPA does."""
    node = data
    for part in parts:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BundleError(f"{source}: data path collides with a non-object value")
    if not isinstance(value, dict):
        raise BundleError(f"{source}: data.json must hold a JSON object")
    for key, item in value.items():
        if key in node:
            raise BundleError(f"{source}: data key {key!r} is defined twice")
        node[key] = item
