"""The policy bundle: an OPA bundle read from a folder or a `bundle.tar.gz`, plus a team's own policy folders.

Loading reads every file once, verifies the signature when there is one (or when keys are configured),
enforces the `.manifest` roots as OPA does, places each `data.json`/`data.yaml` at its folder's path, and fixes
the revision as a digest of exactly the files that were loaded, so a decision names exactly the policies that
produced it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govern.canonical import canonical_json
from govern.policy.annotations import RuleCatalogue, build_catalogue
from govern.policy.archive import BundleError, parse_document, read_bundle_files, read_folder, utf8
from govern.policy.signing import SIGNATURES_FILE, Verification, verification_from_settings, verify_bundle

if TYPE_CHECKING:
    from govern.settings import Settings

__all__ = ["BundleError", "Module", "PolicyBundle", "default_bundle_path", "load_bundle", "load_configured_bundle"]

ENTRYPOINT = "govern/decision"
AUTHZ_ENTRYPOINT = "govern/authz/decision"
TEST_SUFFIX = "_test.rego"
CUSTOM_PACKAGE = "govern.custom"
CUSTOM_TEST_PACKAGE = "govern.custom_test"
"""Where a team's tests live: under govern.custom every rule joins each decision, a test that evaluates the
decision would then depend on itself."""
MANIFEST = ".manifest"
DATA_FILES = frozenset({"data.json", "data.yaml", "data.yml"})
UNSUPPORTED_FILES = {
    "policy.wasm": "Wasm modules, which govern cannot evaluate",
    "plan.json": "plan modules, which govern cannot evaluate",
    "patch.json": "a delta bundle's patch, which govern does not apply",
}

_PACKAGE_LINE = re.compile(r"package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:#.*)?")


@dataclass(frozen=True)
class Module:
    """A Rego module. `path` is the name engines and messages use: bundle-relative for the bundle's own modules,
    the file as the user gave its folder for a team's; `origin` is the team policy folder, empty for the bundle."""

    path: str
    source: str
    origin: str = ""

    @property
    def package(self) -> str:
        """The package of the module's first statement (`package a.b`), or "" when there is none."""
        for line in self.source.splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                match = _PACKAGE_LINE.fullmatch(stripped)
                return match.group(1) if match else ""
        return ""

    @property
    def is_test(self) -> bool:
        return self.path.endswith(TEST_SUFFIX)


@dataclass(frozen=True)
class BundleFile:
    """One file a revision is the digest of: the bundle's own (`kind` "bundle", named by its bundle path) or a
    team policy folder's (`kind` "custom", named by its path in the folder; `module_path` and `origin` are
    the module's name and folder as loaded). Kept so a revision can be stored and loaded again exactly."""

    kind: str
    name: str
    content: bytes = field(repr=False)
    module_path: str = ""
    origin: str = ""


@dataclass(frozen=True)
class PolicyBundle:
    root: Path
    manifest: dict[str, Any]
    modules: tuple[Module, ...]
    data: dict[str, Any] = field(repr=False)
    revision: str
    files: tuple[BundleFile, ...] = field(default=(), repr=False)

    @property
    def manifest_revision(self) -> str:
        return str(self.manifest.get("revision", ""))

    @property
    def roots(self) -> list[str]:
        """The manifest's roots as OPA reads them (no slashes at either end); no roots means everything."""
        return [root.strip("/") for root in self.manifest.get("roots", [""])]

    @property
    def policy_modules(self) -> tuple[Module, ...]:
        return tuple(m for m in self.modules if not m.is_test)

    @cached_property
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


def load_configured_bundle(settings: Settings, source: Path | None = None) -> PolicyBundle:
    """The bundle the settings name (or `source`), with their team policy folders and verification keys: the
    one way the CLI and the service load a bundle, so no caller can forget the keys."""
    return load_bundle(
        source or settings.bundle, policy_dirs=settings.policy_dirs, verification=verification_from_settings(settings)
    )


def load_bundle(source: Path | str | None = None, *, policy_dirs: Sequence[Path | str] = (),
                verification: Verification | None = None) -> PolicyBundle:
    """A bundle folder or `bundle.tar.gz` (default: the shipped bundle), verified, with the team policy folders'
    modules added; anything that cannot be verified or read refuses the whole bundle."""
    root = Path(source) if source is not None else default_bundle_path()
    contents = read_bundle_files(root)
    signatures = contents.pop(SIGNATURES_FILE, None)
    verify_bundle(contents, signatures, verification, str(root), str(root) if root.is_dir() else "")
    return with_team_modules(assemble(root, contents), team_modules(policy_dirs))


def with_team_modules(bundle: PolicyBundle, team: list[tuple[str, Module]]) -> PolicyBundle:
    """The bundle with a team's modules added, and the revision of both together."""
    if not team:
        return bundle
    files = bundle.files + tuple(BundleFile("custom", rel, m.source.encode(), m.path, m.origin) for rel, m in team)
    return replace(bundle, modules=bundle.modules + tuple(module for _, module in team), revision=_digest(files), files=files)


def rebuild_bundle(revision: str, files: Iterable[BundleFile]) -> PolicyBundle:
    """The bundle a stored revision's files make, read as when it was first loaded; BundleError unless they
    digest to `revision` (a stored file was changed)."""
    files = list(files)
    contents = {f.name: f.content for f in files if f.kind == "bundle"}
    team = [(f.name, Module(f.module_path, utf8(f.content, f.module_path), f.origin)) for f in files if f.kind == "custom"]
    bundle = with_team_modules(assemble(Path(f"revision {revision}"), contents), team)
    if bundle.revision != revision:
        raise BundleError(f"the stored files of revision {revision} digest to {bundle.revision}: they were changed")
    return bundle


def assemble(root: Path, contents: Mapping[str, bytes]) -> PolicyBundle:
    """The bundle these files make, read as OPA reads them; other files are ignored as OPA ignores them."""
    where = str(root)
    if MANIFEST not in contents:
        raise BundleError(f"policy bundle {where} has no .manifest (revision and roots)")
    manifest, roots = _manifest(parse_document(contents[MANIFEST], f"{where}: {MANIFEST}", yaml=False), where)
    modules: list[Module] = []
    data: dict[str, Any] = {}
    for name, content in contents.items():
        base = posixpath.basename(name)
        if base in UNSUPPORTED_FILES:
            raise BundleError(f"{where}: {name} holds {UNSUPPORTED_FILES[base]}")
        if name != MANIFEST and (base.endswith(MANIFEST) or base.endswith("signatures.json")):
            raise BundleError(f"{where}: {name} would be read by OPA as the bundle's manifest or signatures; only the root ones are allowed")
        if name.endswith(".rego"):
            modules.append(_module(name, content, roots, where))
        elif base in DATA_FILES:
            _mount(data, name, _document(name, content, where), where)
    outside = _data_outside_roots(data, [], roots)
    if outside is not None:
        raise BundleError(f"{where}: manifest roots {roots} do not permit data at /{'/'.join(outside)}")
    if not modules:
        raise BundleError(f"policy bundle {where} holds no Rego modules")
    files = _loaded(contents, modules)
    return PolicyBundle(root, manifest, tuple(modules), data, _digest(files), files)


def _manifest(value: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """The manifest and its roots, refused where OPA would refuse it or where govern would read it differently."""
    if not isinstance(value, dict) or not isinstance(value.get("revision"), str):
        raise BundleError(f"policy bundle {where}: .manifest must be a JSON object with a 'revision' string")
    roots = value.get("roots", [""])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise BundleError(f"policy bundle {where}: .manifest 'roots' must be a list of strings")
    trimmed = [r.strip("/") for r in roots]
    for index, first in enumerate(trimmed):
        for second in trimmed[index + 1:]:
            if _contains(first, second) or _contains(second, first):
                raise BundleError(f"policy bundle {where}: .manifest has overlapping roots {first!r} and {second!r}")
    per_file = value.get("file_rego_versions") or {}
    if not isinstance(per_file, dict) or any(v != 1 for v in [value.get("rego_version", 1), *per_file.values()]):
        raise BundleError(f"policy bundle {where}: .manifest asks for a Rego version other than 1, the only one govern evaluates")
    return value, trimmed


def _contains(root: str, path: str) -> bool:
    """OPA's rootContains: the root "" holds everything, else its segments start the path's."""
    if root == "":
        return True
    root_parts, parts = root.split("/"), path.split("/")
    return root_parts == parts[: len(root_parts)]


def _module(name: str, content: bytes, roots: list[str], where: str) -> Module:
    module = Module(name, utf8(content, f"{where}: {name}"))
    if not module.package:
        raise BundleError(f"{where}: {name} does not start with a `package a.b.c` line")
    if not any(_contains(root, module.package.replace(".", "/")) for root in roots):
        raise BundleError(f"{where}: manifest roots {roots} do not permit package {module.package} in {name}")
    return module


def _document(name: str, content: bytes, where: str) -> Any:
    """A data document: data.json is JSON; data.yaml/yml is JSON when it parses as JSON, else YAML (as OPA)."""
    return parse_document(content, f"{where}: {name}", yaml=not name.endswith(".json"))


def _mount(data: dict[str, Any], name: str, value: Any, where: str) -> None:
    """Place a data document at its folder's path and merge it in as OPA does: objects merge, anything else
    that meets existing data collides."""
    parts = name.split("/")[:-1]
    if parts and parts[0].startswith("."):
        raise BundleError(f"{where}: {name} sits under a dot folder, which OPA would mount at another path")
    if not parts and not isinstance(value, dict):
        raise BundleError(f"{where}: {name} at the bundle root must hold an object")
    for part in reversed(parts):
        value = {part: value}
    collision = _collision(data, value, [])
    if collision is not None:
        raise BundleError(f"{where}: {name} collides with other data at /{'/'.join(collision)}")
    _merge(data, value)


def _collision(existing: dict[str, Any], new: dict[str, Any], path: list[str]) -> list[str] | None:
    """Where merging `new` would meet a non-object (OPA's merge.InterfaceMaps conflict), or None."""
    for key, value in new.items():
        if key in existing:
            if not (isinstance(existing[key], dict) and isinstance(value, dict)):
                return path + [key]
            collision = _collision(existing[key], value, path + [key])
            if collision is not None:
                return collision
    return None


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if key in into:
            _merge(into[key], value)
        else:
            into[key] = value


def _data_outside_roots(node: Any, path: list[str], roots: list[str]) -> list[str] | None:
    """OPA's roots check on data: a path inside a root is fine; an object on the way to a root is walked."""
    joined = "/".join(path)
    if any(_contains(root, joined) for root in roots):
        return None
    if isinstance(node, dict) and any(_contains(joined, root) for root in roots):
        for key, child in node.items():
            outside = _data_outside_roots(child, path + [key], roots)
            if outside is not None:
                return outside
        return None
    return path


def team_modules(policy_dirs: Iterable[Path | str]) -> list[tuple[str, Module]]:
    """(path in its folder, module) for every `.rego` file of the team policy folders, tests included. Each
    policy's package must be govern.custom or under it, each test's govern.custom_test or under it. A module
    is named by its folder as given (`./teams/x.rego`), which no bundle-relative name can be, so it never
    shadows one of the bundle's files."""
    found: list[tuple[str, Module]] = []
    folders: list[Path] = []
    for given in policy_dirs:
        folder = Path(given)
        if not folder.is_dir():
            raise BundleError(f"policy folder {folder} is not a folder")
        resolved = folder.resolve()
        if any(resolved == f or f in resolved.parents or resolved in f.parents for f in folders):
            raise BundleError(f"policy folder {folder} overlaps another policy folder given")
        folders.append(resolved)
        sources = read_folder(folder, ".rego")
        if not sources:
            raise BundleError(f"policy folder {folder} holds no .rego files")
        shown = folder.as_posix()
        prefix = shown if folder.is_absolute() or shown == "." else f"./{shown}"
        for rel, content in sources.items():
            module = Module(f"{prefix}/{rel}", utf8(content, f"{prefix}/{rel}"), shown)
            home = CUSTOM_TEST_PACKAGE if module.is_test else CUSTOM_PACKAGE
            package = module.package
            if package != home and not package.startswith(home + "."):
                raise BundleError(
                    f"{module.path}: package {package or '(none)'} is not {home} or under it; "
                    f"team {'tests' if module.is_test else 'policies'} live there"
                )
            found.append((rel, module))
    return found


def _loaded(contents: Mapping[str, bytes], modules: Iterable[Module]) -> tuple[BundleFile, ...]:
    """The bundle files that were loaded (manifest, modules, data documents), not the ones ignored."""
    paths = {module.path for module in modules}
    return tuple(BundleFile("bundle", name, content) for name, content in contents.items()
                 if name == MANIFEST or name in paths or posixpath.basename(name) in DATA_FILES)


def _digest(files: Iterable[BundleFile]) -> str:
    """sha256 over (kind, name, length, content) of each file in order: unambiguous, and independent of
    where the files came from (a folder or an archive, this machine or another)."""
    digest = hashlib.sha256()
    for kind, name, content in sorted((f.kind, f.name, f.content) for f in files):
        digest.update(f"{kind}\0{name}\0{len(content)}\0".encode() + content)
    return f"sha256:{digest.hexdigest()}"
