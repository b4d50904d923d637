"""Bundles as OPA ships them: a folder or a tar.gz, `.manifest` roots, data by path, hostile archives, team folders."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest

from govern.policy.archive import MAX_ENTRIES, MAX_FILE_BYTES, MAX_TOTAL_BYTES
from govern.policy.bundle import BundleError, load_bundle, load_configured_bundle
from govern.settings import load_settings
from tests.conftest import EXAMPLES, EXAMPLES_NOW, ROOT
from tests.policy.test_engine import make_bundle as make_policy_bundle

SHIPPED = ROOT / "policies"

def make_bundle(root: Path, *args, **kwargs) -> Path:
    """A test bundle with one data document (`govern/limits/data.json`) beside its policy."""
    root = make_policy_bundle(root, *args, **kwargs)
    (root / "govern" / "limits").mkdir(exist_ok=True)
    (root / "govern" / "limits" / "data.json").write_text('{"maxShots": 100000, "tier": "high"}')
    return root



def tar_like_gnu(folder: Path, archive: Path) -> Path:
    """`tar czf bundle.tar.gz -C folder .`, run for real: member names like `./govern/main.rego`."""
    subprocess.run(["tar", "czf", str(archive), "-C", str(folder), "."], check=True)
    return archive


def tar_like_opa_build(folder: Path, archive: Path) -> Path:
    """The member names `opa build` writes: `/govern/main.rego`, no folder entries."""
    with tarfile.open(archive, "w:gz") as out:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            member = tarfile.TarInfo("/" + path.relative_to(folder).as_posix())
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    return archive


def hostile(archive: Path, *members: tarfile.TarInfo | tuple[str, bytes]) -> Path:
    """A tar.gz of the given members: (name, content) pairs or prepared TarInfo headers (links, devices)."""
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as out:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                out.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                out.addfile(info, io.BytesIO(member[1]))
    return archive


def summary(result) -> str:
    return result.output.strip().splitlines()[-1]


def test_folder_and_both_tarball_layouts_give_the_same_bundle_and_revision(tmp_path):
    folder = load_bundle(SHIPPED)
    for archive in (tar_like_gnu(SHIPPED, tmp_path / "gnu.tar.gz"), tar_like_opa_build(SHIPPED, tmp_path / "opa.tar.gz")):
        packed = load_bundle(archive)
        assert packed.revision == folder.revision
        assert [(m.path, m.source) for m in packed.modules] == [(m.path, m.source) for m in folder.modules]
        assert packed.data == folder.data and packed.manifest == folder.manifest
        assert packed.root == archive


@pytest.mark.slow
def test_the_shipped_bundle_as_a_tarball_decides_the_examples_like_the_folder(cli, tmp_path):
    archive = tar_like_gnu(SHIPPED, tmp_path / "bundle.tar.gz")
    common = ("check", str(EXAMPLES), "--context", str(EXAMPLES / "context.yaml"), "--now", EXAMPLES_NOW)
    from_folder = cli(*common, "--bundle", SHIPPED)
    from_archive = cli(*common, "--bundle", archive)
    assert from_folder.exit_code == from_archive.exit_code == 1
    assert summary(from_archive) == summary(from_folder)
    assert "denied" in summary(from_archive) and " 0 error" in summary(from_archive)


def test_the_revision_digests_exactly_what_was_loaded(tmp_path):
    root = make_bundle(tmp_path / "b")
    first = load_bundle(root).revision
    (root / "NOTES.md").write_text("ignored, as OPA ignores it\n")
    (root / "govern" / "extra.json").write_text('{"not": "a data document"}')
    assert load_bundle(root).revision == first
    (root / "govern" / "limits" / "data.json").write_text('{"maxShots": 5, "tier": "low"}')
    assert load_bundle(root).revision != first


def test_a_module_outside_the_roots_is_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / "govern" / "other.rego").write_text("package elsewhere.rules\nimport rego.v1\nx := 1\n")
    with pytest.raises(BundleError, match=r"roots \['govern'\] do not permit package elsewhere.rules in govern/other.rego"):
        load_bundle(root)


def test_data_outside_the_roots_is_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / "other").mkdir()
    (root / "other" / "data.json").write_text('{"x": 1}')
    with pytest.raises(BundleError, match=r"do not permit data at /other"):
        load_bundle(root)
    (root / "other" / "data.json").unlink()
    (root / "data.json").write_text('{"govern": {"fine": 1}, "stray": 2}')
    with pytest.raises(BundleError, match=r"do not permit data at /stray"):
        load_bundle(root)


def test_narrow_roots_and_no_roots(tmp_path):
    root = make_bundle(tmp_path)
    (root / ".manifest").write_text(json.dumps({"revision": "t", "roots": ["govern/limits", "govern/decision"]}))
    with pytest.raises(BundleError, match="do not permit package govern in govern/policy.rego"):
        load_bundle(root)
    (root / ".manifest").write_text(json.dumps({"revision": "t"}))
    (root / "anywhere").mkdir()
    (root / "anywhere" / "data.json").write_text('{"x": 1}')
    assert load_bundle(root).data["anywhere"] == {"x": 1}
    (root / ".manifest").write_text(json.dumps({"revision": "t", "roots": ["govern", "/govern/limits/"]}))
    with pytest.raises(BundleError, match="overlapping roots 'govern' and 'govern/limits'"):
        load_bundle(root)


def test_data_yaml_and_yml_are_placed_by_their_folders_path(tmp_path):
    root = make_bundle(tmp_path)
    (root / "govern" / "sites").mkdir()
    (root / "govern" / "sites" / "data.yaml").write_text("eu:\n  region: eu-west-1\n  active: true\n  note: on\n")
    (root / "govern" / "teams" / "materials").mkdir(parents=True)
    (root / "govern" / "teams" / "materials" / "data.yml").write_text("- gpu\n- qpu\n")
    (root / "govern" / "numbers").mkdir()
    (root / "govern" / "numbers" / "data.yaml").write_text('{"exact": 1e3}')
    data = load_bundle(root).data["govern"]
    assert data["sites"] == {"eu": {"region": "eu-west-1", "active": True, "note": "on"}}
    assert data["teams"] == {"materials": ["gpu", "qpu"]}
    assert data["numbers"] == {"exact": 1000.0}


@pytest.mark.parametrize("content, problem", [
    ("a: 1\na: 2\n", "duplicate key"),
    ("a: &x [1]\nb: *x\n", "anchors and aliases"),
    ("when: 2026-01-01\n", "not a JSON value"),
    ("--- 1\n--- 2\n", "2 YAML documents"),
])
def test_data_yaml_is_read_safely(tmp_path, content, problem):
    root = make_bundle(tmp_path)
    (root / "govern" / "x").mkdir()
    (root / "govern" / "x" / "data.yaml").write_text(content)
    with pytest.raises(BundleError, match=problem):
        load_bundle(root)


def test_data_documents_merge_as_objects_and_collisions_are_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / "govern" / "data.json").write_text('{"extra": {"a": 1}}')
    (root / "govern" / "extra").mkdir()
    (root / "govern" / "extra" / "data.yaml").write_text("b: 2\n")
    assert load_bundle(root).data["govern"]["extra"] == {"a": 1, "b": 2}
    (root / "govern" / "extra" / "data.yaml").write_text("a: 3\n")
    with pytest.raises(BundleError, match="govern/extra/data.yaml collides with other data at /govern/extra/a"):
        load_bundle(root)
    (root / "govern" / "extra" / "data.yaml").unlink()
    (root / "govern" / "data.json").write_text('{"limits": []}')
    with pytest.raises(BundleError, match="collides with other data at /govern/limits"):
        load_bundle(root)
    (root / "govern" / "data.json").write_text('{"extra": 1, "extra": 2}')
    with pytest.raises(BundleError, match="duplicate key 'extra'"):
        load_bundle(root)


@pytest.mark.parametrize("name, reason", [
    ("govern/policy.wasm", "Wasm modules"),
    ("patch.json", "delta bundle"),
    ("govern/.manifest", "manifest or signatures"),
    ("govern/x.signatures.json", "manifest or signatures"),
])
def test_files_govern_would_read_otherwise_than_opa_are_refused(tmp_path, name, reason):
    root = make_bundle(tmp_path)
    (root / name).write_bytes(b"{}")
    with pytest.raises(BundleError, match=reason):
        load_bundle(root)


def test_a_manifest_for_rego_v0_is_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / ".manifest").write_text(json.dumps({"revision": "t", "roots": ["govern"], "rego_version": 0}))
    with pytest.raises(BundleError, match="Rego version other than 1"):
        load_bundle(root)


@pytest.mark.slow
def test_a_gzip_bomb_is_cut_off_at_the_cap_quickly_and_in_bounded_memory(tmp_path):
    """256 MiB of zeros in 4 MiB members, about 250 KB compressed."""
    archive = tmp_path / "bomb.tar.gz"
    zeros = bytes(4 * 1024 * 1024)
    with gzip.open(archive, "wb", compresslevel=1) as raw, tarfile.open(fileobj=raw, mode="w|") as out:
        for index in range(64):
            member = tarfile.TarInfo(f"govern/blob{index}.bin")
            member.size = len(zeros)
            out.addfile(member, io.BytesIO(zeros))
    assert archive.stat().st_size < 2_000_000
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(BundleError, match=f"more than {MAX_TOTAL_BYTES} bytes"):
        load_bundle(archive)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 10 and peak < MAX_TOTAL_BYTES + 16 * 1024 * 1024


@pytest.mark.slow
def test_an_oversized_header_is_refused_before_its_data_is_read(tmp_path):
    """A pax header that would have tarfile buffer 200 MiB, and a member that claims 2 GiB."""
    archive = tmp_path / "pax.tar.gz"
    header = tarfile.TarInfo("x")
    header.pax_headers = {"comment": "z" * (200 * 1024 * 1024)}
    with gzip.open(archive, "wb", compresslevel=1) as raw:
        raw.write(header.tobuf(tarfile.PAX_FORMAT))
    with pytest.raises(BundleError, match="decompresses to more than"):
        load_bundle(archive)
    huge = tarfile.TarInfo("govern/huge.rego")
    huge.size = 2 * 1024 * 1024 * 1024
    (tmp_path / "huge.tar.gz").write_bytes(gzip.compress(huge.tobuf(tarfile.GNU_FORMAT) + bytes(10240)))
    tracemalloc.start()
    with pytest.raises(BundleError, match=f"govern/huge.rego is {huge.size} bytes, over the {MAX_FILE_BYTES}-byte limit"):
        load_bundle(tmp_path / "huge.tar.gz")
    assert tracemalloc.get_traced_memory()[1] < 8 * 1024 * 1024
    tracemalloc.stop()


@pytest.mark.slow
def test_thousands_of_members_are_refused(tmp_path):
    archive = hostile(tmp_path / "many.tar.gz", *[(f"govern/f{i}.txt", b"") for i in range(MAX_ENTRIES + 1)])
    with pytest.raises(BundleError, match=f"more than {MAX_ENTRIES} entries"):
        load_bundle(archive)
    root = make_bundle(tmp_path / "folder")
    for index in range(MAX_ENTRIES):
        (root / "govern" / f"f{index}.txt").touch()
    with pytest.raises(BundleError, match=f"more than {MAX_ENTRIES} entries"):
        load_bundle(root)


def _link(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member


@pytest.mark.parametrize("member, problem", [
    (("../escape.rego", b"package govern"), "climbs out of the bundle"),
    (("govern/../../escape.rego", b"package govern"), "climbs out of the bundle"),
    (("//etc/passwd", b"root:x:0:0"), "absolute path"),
    (("C:/Windows/evil.rego", b"package govern"), "absolute path"),
    (("govern\\evil.rego", b"package govern"), "backslash"),
    (_link("govern/passwd.rego", tarfile.SYMTYPE, "/etc/passwd"), "is a symbolic link"),
    (_link("govern/shadow.rego", tarfile.LNKTYPE, "/etc/shadow"), "is a hard link"),
    (_link("govern/tty", tarfile.CHRTYPE), "is a device"),
    (_link("govern/pipe", tarfile.FIFOTYPE), "is a pipe"),
])
def test_hostile_members_are_refused_naming_them(tmp_path, member, problem):
    archive = hostile(tmp_path / "evil.tar.gz", (".manifest", b'{"revision": "x"}'), member)
    with pytest.raises(BundleError, match=problem) as refused:
        load_bundle(archive)
    assert str(archive) in str(refused.value)


def test_one_file_given_twice_and_broken_archives_are_refused(tmp_path):
    twice = hostile(tmp_path / "twice.tar.gz", ("./govern/a.rego", b"package govern"), ("/govern/a.rego", b"package govern"))
    with pytest.raises(BundleError, match="govern/a.rego appears twice"):
        load_bundle(twice)
    (tmp_path / "plain.tar.gz").write_bytes(b"not gzip at all")
    with pytest.raises(BundleError, match="not a readable gzip-compressed tar archive"):
        load_bundle(tmp_path / "plain.tar.gz")
    whole = tar_like_gnu(SHIPPED, tmp_path / "whole.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BundleError, match="not a readable gzip-compressed tar archive"):
        load_bundle(tmp_path / "cut.tar.gz")
    (tmp_path / "garbage.tar.gz").write_bytes(zlib.compress(b"x" * 1000))
    with pytest.raises(BundleError, match="not a readable"):
        load_bundle(tmp_path / "garbage.tar.gz")


def test_documents_nested_too_deeply_are_refused(tmp_path):
    root = make_bundle(tmp_path)
    (root / "govern" / "deep").mkdir()
    (root / "govern" / "deep" / "data.json").write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(BundleError, match="govern/deep/data.json: nested more than 100 deep"):
        load_bundle(root)
    (root / "govern" / "deep" / "data.json").write_text('{"a":' * 150 + "1" + "}" * 150)
    with pytest.raises(BundleError, match="nested more than 100 deep"):
        load_bundle(root)


def test_links_and_pipes_in_a_bundle_folder_are_refused(tmp_path):
    root = make_bundle(tmp_path / "b")
    (root / "govern" / "linked.rego").symlink_to(root / "govern" / "policy.rego")
    with pytest.raises(BundleError, match="govern/linked.rego is a symbolic link"):
        load_bundle(root)
    (root / "govern" / "linked.rego").unlink()
    os.mkfifo(root / "govern" / "pipe.rego")
    with pytest.raises(BundleError, match="govern/pipe.rego is not a regular file"):
        load_bundle(root)


def test_the_cli_names_the_problem_and_exits_two(cli, tmp_path):
    archive = hostile(tmp_path / "evil.tar.gz", (".manifest", b'{"revision": "x"}'), ("../escape.rego", b"package govern"))
    for command in ("list", "check", "test"):
        result = cli("policy", command, "--bundle", archive)
        assert result.exit_code == 2, (command, result.output)
        flat = result.output.replace("\n", "")
        assert "../escape.rego" in flat and "climbs out" in flat and "Traceback" not in flat
    checked = cli("check", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--bundle", archive, "-f", "json")
    assert checked.exit_code == 1
    finding = json.loads(checked.output)["results"][0]["decision"]["deny"][0]
    assert finding["rule"] == "GOV-ENGINE" and "climbs out" in finding["message"]


TEAM_POLICY = """package govern.custom.materials_rnd

import rego.v1

deny contains "GPU jobs need a cost centre" if {
\tinput.labels.kind == "gpu"
}

allowed(device) if device in {"aer_simulator", "local_simulator"}
"""
TEAM_TEST = """package govern.custom_test.materials_rnd

import rego.v1

import data.govern.custom.materials_rnd

test_only_simulators_are_allowed if {
\tmaterials_rnd.allowed("aer_simulator")
\tnot materials_rnd.allowed("ibm_torino")
}
"""


def team_folder(path: Path, policy: str = TEAM_POLICY) -> Path:
    path.mkdir(parents=True)
    (path / "materials.rego").write_text(policy)
    (path / "materials_test.rego").write_text(TEAM_TEST)
    (path / "README.md").write_text("not Rego, not read\n")
    return path


def test_team_folders_add_their_modules_and_tests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    team_folder(tmp_path / "teams" / "materials")
    plain = load_bundle(SHIPPED)
    bundle = load_bundle(SHIPPED, policy_dirs=["teams/materials"])
    added = {m.path for m in bundle.modules} - {m.path for m in plain.modules}
    assert added == {"./teams/materials/materials.rego", "./teams/materials/materials_test.rego"}
    assert {m.origin for m in bundle.modules if m.path in added} == {"teams/materials"}
    assert "./teams/materials/materials_test.rego" in {m.path for m in bundle.test_modules}
    assert bundle.data == plain.data and bundle.manifest == plain.manifest


def test_the_revision_covers_the_team_modules(tmp_path):
    plain = load_bundle(SHIPPED).revision
    first = load_bundle(SHIPPED, policy_dirs=[team_folder(tmp_path / "a")]).revision
    same = load_bundle(SHIPPED, policy_dirs=[team_folder(tmp_path / "elsewhere" / "a")]).revision
    other = load_bundle(SHIPPED, policy_dirs=[team_folder(tmp_path / "b", TEAM_POLICY.replace("cost centre", "budget"))]).revision
    assert len({plain, first, other}) == 3 and same == first


def test_a_team_package_outside_govern_custom_is_refused_naming_file_and_package(tmp_path, cli):
    folder = team_folder(tmp_path / "team", TEAM_POLICY.replace("govern.custom.materials_rnd", "govern.procurement"))
    with pytest.raises(BundleError, match=r"/team/materials.rego: package govern.procurement is not govern.custom"):
        load_bundle(SHIPPED, policy_dirs=[folder])
    result = cli("policy", "list", "--policy", folder)
    assert result.exit_code == 2 and "govern.procurement is not govern.custom" in result.output.replace("\n", "")
    (folder / "materials.rego").write_text(TEAM_POLICY.replace("govern.custom.materials_rnd", "govern.customs"))
    with pytest.raises(BundleError, match="package govern.customs is not govern.custom"):
        load_bundle(SHIPPED, policy_dirs=[folder])


def test_team_folders_that_overlap_are_empty_or_hold_links_are_refused(tmp_path):
    folder = team_folder(tmp_path / "team")
    with pytest.raises(BundleError, match="overlaps another policy folder"):
        load_bundle(SHIPPED, policy_dirs=[folder, tmp_path / "team" / "."])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="holds no .rego files"):
        load_bundle(SHIPPED, policy_dirs=[tmp_path / "empty"])
    (folder / "shared.rego").symlink_to(SHIPPED / "govern" / "lib.rego")
    with pytest.raises(BundleError, match="shared.rego is a symbolic link"):
        load_bundle(SHIPPED, policy_dirs=[folder])
    with pytest.raises(BundleError, match="is not a folder"):
        load_bundle(SHIPPED, policy_dirs=[tmp_path / "missing"])


@pytest.mark.slow
def test_policy_dirs_come_from_the_setting_and_the_cli(tmp_path, monkeypatch, cli):
    folder = team_folder(tmp_path / "team")
    monkeypatch.setenv("GOVERN_POLICY_DIRS", str(folder))
    assert any(m.origin == folder.as_posix() for m in load_configured_bundle(load_settings()).modules)
    monkeypatch.delenv("GOVERN_POLICY_DIRS")
    tested = cli("policy", "test", "--policy", folder, "-v")
    assert tested.exit_code == 0, tested.output
    assert f"{folder.as_posix()}/materials_test.rego: data.govern.custom_test.materials_rnd.test_only_simulators_are_allowed" in tested.output.replace("\n", "")
    checked = cli("check", str(EXAMPLES / "allowed" / "bell-local.yaml"), "--policy", folder, "-f", "json")
    assert checked.exit_code == 0, checked.output
    decision = json.loads(checked.output)["results"][0]["decision"]
    assert decision["bundle_revision"] == load_bundle(policy_dirs=[folder]).revision
