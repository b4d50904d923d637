"""Circuits bounded before Qiskit allocates anything: declared qubits and clbits, the expanded operation count
(nested gates, broadcasts, loops), clear errors for empty or undecodable files, and the path rule for circuit
files and includes. Refusals go through `govern check` in a real process too (exit 2; a timeout only as a guard)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govern.circuit import CircuitLimits, expand, parse_circuit, profile_qasm
from govern.circuit.includes import scan_program
from govern.circuit.parse import parse_scanned
from govern.errors import InputError
from tests.api.test_api import auth, client, example, token_for  # noqa: F401 - client is the service fixture
from tests.conftest import EXAMPLES, EXAMPLES_NOW, ROOT

LIMITS = CircuitLimits()
QASM2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
MANIFEST = (EXAMPLES / "allowed" / "bell-local.yaml").read_text()
SECRET = "SENTINEL-root:x:0:0:do-not-echo"


def nested_gates(levels: int = 10, fan_out: int = 10) -> str:
    """`levels` gates each calling the one below `fan_out` times: fan_out**levels CX once expanded, about 1 KB."""
    lines = [QASM2, "gate g0 a,b { cx a,b; }\n"]
    for level in range(1, levels + 1):
        lines.append(f"gate g{level} a,b {{ " + " ".join([f"g{level - 1} a,b;"] * fan_out) + " }\n")
    return "".join(lines) + f"qreg q[2];\ng{levels} q[0],q[1];\n"


def refusal(text: str, limits: CircuitLimits = LIMITS, **options) -> InputError:
    with pytest.raises(InputError) as caught:
        profile_qasm(text, "c.qasm", limits, **options)
    return caught.value


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("OPENQASM 2.0; qreg q[1000000000];", (1, 20), "circuit has 1000000000 qubits, over the limit of 1000 (GOVERN_MAX_CIRCUIT_QUBITS)"),
        (QASM2 + "qreg a[600];\nqreg b[600];\n", (4, 6), "circuit has 1200 qubits"),
        (QASM3 + "qubit[1001] q;\n", (3, 13), "circuit has 1001 qubits"),
        (QASM3 + "qubit[1000] q;\nqubit r;\n", (4, 7), "circuit has 1001 qubits"),
        (QASM3 + "h $5000;\n", (3, 3), "circuit has 5001 qubits (physical qubits"),
        (QASM3 + "qubit q;\nbit[20000] c;\n", (4, 12), "20000 classical bits, over the limit of 10000 (GOVERN_MAX_CIRCUIT_CLBITS)"),
        ("OPENQASM 2.0;\ncreg c[10001];\n", (2, 6), "10001 classical bits"),
        ("OPENQASM 2.0; qreg q[" + "9" * 500_000 + "];", (1, 22), "has more than 18 digits"),
        (QASM3 + "qubit[n] q;\n", (3, 7), "a register size must be an integer literal"),
    ],
    ids=["qasm2-billion", "qasm2-sum", "qasm3-register", "qasm3-single", "physical", "qasm3-clbits", "qasm2-clbits", "digits", "symbolic"],
)
def test_registers_are_bounded_before_qiskit(text, position, message):
    error = refusal(text)
    (problem,) = error.problems
    assert message in problem.message
    assert (problem.line, problem.column) == position


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (nested_gates(), 15),
        (QASM2 + "qreg q[1000];\n" + "h q;\n" * 1000, 204),
        (QASM3 + "qubit[2] q;\nfor int i in [0:999999] { h q; }\n", 4),
        (QASM3 + "qubit[2] q;\nfor int i in [0:99] { for int j in [0:99] { for int k in [0:99] { x q[0]; } } }\n", 4),
        (QASM3 + "gate g a { h a; x a; }\ngate big a { " + "g a; " * 1000 + "}\nqubit q;\n" + "inv @ big q;\n" * 101, 106),
    ],
    ids=["nested-gates", "broadcast", "for-loop", "nested-loops", "inverse-modifier"],
)
def test_expanded_operations_are_bounded_before_qiskit(text, line):
    (problem,) = refusal(text).problems
    assert "operations once its gates, loops and register broadcasts are expanded, over the limit of 200000" in problem.message
    assert problem.line == line


def test_the_broadcast_case_is_refused_on_operations_when_the_qubits_are_allowed():
    text = QASM2 + "qreg q[10000];\n" + "h q;\n" * 1000
    assert "10000 qubits" in refusal(text).problems[0].message
    (problem,) = refusal(text, CircuitLimits(max_qubits=10_000)).problems
    assert "at least 210000 operations" in problem.message and problem.line == 24


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("int n = 3;\nfor int i in [0:n] { h q; }\n", "a for loop range must be integer literals"),
        ("array[int, 3] xs = {1, 2, 3};\nfor int i in xs { h q; }\n", "a for loop over 'xs' cannot be bounded before parsing"),
        ("for int i in [0:0:9] { h q; }\n", "a step other than 0"),
        ("gate wide a, b, c, d, e, f, g, h { " + "cx a, b; " * 2000 + "}\npow(2) @ wide q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7];\n", "Qiskit would build its 2^8×2^8 matrix"),
        ("{" * 40 + "h q;" + "}" * 40, "blocks nested more than 32 deep"),
        ("bit b;\n" + "if (b) " * 5000 + "h q;\n", "statements nested more than 32 deep"),
        ("rz(" + "(" * 100 + "0" + ")" * 100 + ") q[0];\n", "brackets nested more than 64 deep"),
    ],
    ids=["variable-range", "array-loop", "zero-step", "pow-wide", "deep-blocks", "deep-ifs", "deep-brackets"],
)
def test_what_cannot_be_bounded_is_refused(body, message):
    assert message in refusal(QASM3 + "qubit[8] q;\n" + body).problems[0].message


def test_loops_sets_and_broadcasts_count_what_they_expand_to():
    text = QASM3 + "qubit[3] q;\nbit[3] c;\nfor int i in {0, 2} { h q; }\nfor int i in [0:2:9] { cx q[0], q[1]; }\nc = measure q;\n"
    assert scan_program(text, LIMITS).operations == (1 + 2 * 3) + (1 + 5 * 1) + 3


def test_the_profile_carries_the_expanded_size_and_depth():
    text = QASM2 + "gate pair a,b { h a; cx a,b; }\ngate twice a,b { pair a,b; pair b,a; }\nqreg q[2];\ncreg c[2];\ntwice q[0],q[1];\nmeasure q -> c;\n"
    profile = profile_qasm(text, "c.qasm", LIMITS)
    assert profile.ops == {"h": 2, "cx": 2, "measure": 2}
    assert (profile.size, profile.depth, profile.two_qubit_depth, profile.non_local_gates) == (6, 5, 2, 2)
    loop = QASM3 + "gate g a { h a; x a; }\nqubit[2] q;\nbit[2] c;\nfor int i in [0:9] { g q[0]; cx q[0], q[1]; }\nc = measure q;\n"
    profile = profile_qasm(loop, "c.qasm", LIMITS)
    assert profile.ops == {"h": 10, "x": 10, "cx": 10, "measure": 2}
    assert profile.size == 32 and profile.two_qubit_depth == 10


@pytest.mark.slow
def test_an_expansion_within_the_limits_is_profiled_in_full():
    profile = profile_qasm(nested_gates(levels=4), "c.qasm", LIMITS)
    assert profile.ops == {"cx": 10_000} and profile.size == 10_000 and profile.depth == 10_000


@pytest.mark.parametrize("text", ["", "   \n\t\n", "// only a comment\n/* and another */\n"], ids=["empty", "blank", "comments"])
def test_an_empty_circuit_has_its_own_error(text):
    assert refusal(text).problems[0].message.startswith("circuit file is empty")


def test_a_versionless_file_that_includes_qelib1_is_openqasm_2():
    text = '// QASMBench sat_n11 style\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
    profile = profile_qasm(text, "sat.qasm", LIMITS)
    assert profile.format == "qasm2" and profile.ops == {"h": 1, "cx": 1, "measure": 2}


def test_antlr_errors_land_in_the_error_not_on_stderr(capfd):
    scanned = scan_program(QASM3 + "qubit q;\n", LIMITS)
    with pytest.raises(InputError) as caught:
        parse_scanned(dataclasses.replace(scanned, text=scanned.text + "h q; `\n"), "c.qasm")
    assert "token recognition error" in caught.value.problems[0].message
    assert caught.value.problems[0].line == 4
    with pytest.raises(InputError):
        profile_qasm(QASM3 + "qubit q;\nh q; ?\n", "c.qasm", LIMITS)
    assert capfd.readouterr().err == ""


def test_undecodable_bytes_are_reported_at_their_line_and_column(tmp_path):
    from govern.manifest.documents import read_text

    path = tmp_path / "c.qasm"
    path.write_bytes(b"OPENQASM 3.0;\nqubit q; // caf\xc3\xa9 \xff\n")
    with pytest.raises(InputError) as caught:
        read_text(path, 1000)
    (problem,) = caught.value.problems
    assert "byte 0xff" in problem.message and (problem.line, problem.column) == (2, 18)


def test_includes_are_read_inside_the_tree_and_inlined(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "defs.inc").write_text("gate pair a,b { h a; cx a,b; }\n")
    text = QASM2 + 'include "lib/defs.inc"; qreg q[2];\npair q[0],q[1];\nbogus q[0];\n'
    with pytest.raises(InputError) as caught:
        profile_qasm(text, "c.qasm", LIMITS, tmp_path)
    assert (caught.value.problems[0].line, caught.value.problems[0].column) == (5, 1)
    profile = profile_qasm(text.replace("bogus q[0];\n", ""), "c.qasm", LIMITS, tmp_path)
    assert profile.ops == {"h": 1, "cx": 1}
    (tmp_path / "lib" / "defs.inc").write_text("gate pair a,b { h a; cx a,b; }\nqreg extra[2000];\n")
    (problem,) = refusal(text, include_dir=tmp_path).problems
    assert problem.message.startswith("in included 'lib/defs.inc' at 2:6: circuit has 2000 qubits") and problem.line == 3


def test_includes_never_leave_the_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.inc").write_text(SECRET + "\n")
    tree = tmp_path / "project"
    tree.mkdir()
    (tree / "link.inc").symlink_to(outside / "x.inc")
    for include in ("../../../../etc/passwd", "/etc/passwd", "../outside/x.inc", "link.inc"):
        (problem,) = refusal(QASM2 + f'include "{include}";\n', include_dir=tree).problems
        assert "is outside" in problem.message and (problem.line, problem.column) == (3, 9)
        assert SECRET not in problem.message
    (outside / "y.inc").write_text("gate pair a,b { cx a,b; }\n")
    widened = QASM2 + 'include "../outside/y.inc";\nqreg q[2];\npair q[0],q[1];\n'
    assert profile_qasm(widened, "c.qasm", LIMITS, tree, root=tmp_path).ops == {"cx": 1}


def test_a_circuit_that_is_not_a_file_includes_only_the_standard_libraries():
    (problem,) = refusal(QASM2 + 'include "../../../../etc/passwd";\n').problems
    assert "may include only qelib1.inc or stdgates.inc" in problem.message and problem.line == 3
    with pytest.raises(InputError, match="may include only"):
        parse_circuit(QASM3 + 'include "/etc/hostname";\nqubit q;\n', "dispatch request")


@pytest.mark.slow
def test_inline_and_service_circuits_never_read_files(engine):
    from govern.check.checker import Checker
    from govern.manifest.documents import parse_documents
    from govern.submission import submission_from_document, submission_from_request

    inline = '  circuit:\n    qasm: |\n      OPENQASM 2.0;\n      include "/etc/passwd";\n'
    (document,) = parse_documents(MANIFEST.replace("  circuit: {path: ../circuits/bell.qasm}\n", inline), "inline.yaml")
    checker = Checker(engine)
    for submission in (submission_from_document(document, 1_000_000), submission_from_request(document, None, 1_000_000)):
        with pytest.raises(InputError, match="may include only qelib1.inc or stdgates.inc"):
            checker.profile(submission)


@pytest.mark.slow
def test_the_service_refuses_unbounded_circuits_and_includes_with_422(client):  # noqa: F811 - the fixture
    secret = token_for(client, "submitter", "platform-qa")
    manifest, _ = example("bell-local")
    for circuit, line, message in [
        ("OPENQASM 2.0;\nqreg q[1000000000];\n", 2, "1000000000 qubits, over the limit of 1000"),
        (nested_gates(), 15, "at least 10000000000 operations"),
        ('OPENQASM 2.0;\ninclude "/etc/passwd";\n', 2, "may include only qelib1.inc or stdgates.inc"),
        ("", None, "circuit file is empty"),
    ]:
        response = client.post("/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=auth(secret))
        assert response.status_code == 422, response.text
        (problem,) = response.json()["problems"]
        assert message in problem["message"] and problem["line"] == line


def profiles_of(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    result = subprocess.run(
        [sys.executable, "-m", "govern", "check", "--context", str(EXAMPLES / "context.yaml"), "--now", EXAMPLES_NOW, "-f", "json", *args, str(path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}, result.stdout + result.stderr


def project(tmp_path: Path, circuit_path: str, circuit: str | bytes | None = None) -> Path:
    folder = tmp_path / "project" / "team"
    folder.mkdir(parents=True, exist_ok=True)
    if circuit is not None:
        target = folder / circuit_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(circuit) if isinstance(circuit, bytes) else target.write_text(circuit)
    manifest = folder / "exp.yaml"
    manifest.write_text(MANIFEST.replace("../circuits/bell.qasm", circuit_path))
    return manifest


@pytest.mark.slow
@pytest.mark.parametrize(
    ("circuit", "position", "expected"),
    [
        ("OPENQASM 2.0; qreg q[1000000000];", (1, 20), "circuit has 1000000000 qubits, over the limit of 1000"),
        (nested_gates(), (15, 1), "circuit has at least 10000000000 operations"),
        ("", (None, None), "circuit file is empty"),
        (b"OPENQASM 3.0;\nqubit q;\xff\n", (2, 9), "file is not UTF-8 text: byte 0xff"),
        ('OPENQASM 2.0;\ninclude "../../../../etc/passwd";\n', (2, 9), "include '../../../../etc/passwd' is outside"),
    ],
    ids=["qubits", "nested-gates", "empty", "undecodable", "include"],
)
def test_govern_check_refuses_unbounded_circuits_with_exit_two(tmp_path, circuit, position, expected):
    code, report, output = profiles_of(project(tmp_path, "c.qasm", circuit))
    assert code == 2, output
    error = report["results"][0]["error"]
    (problem,) = error["problems"]
    assert error["source"].endswith("c.qasm") and expected in problem["message"]
    assert (problem["line"], problem["column"]) == position and "Traceback" not in output


@pytest.mark.slow
def test_circuit_paths_outside_the_manifest_tree_exit_two_without_echoing(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.qasm").write_text(SECRET + "\n")
    (tmp_path / "project" / "team").mkdir(parents=True)
    (tmp_path / "project" / "team" / "link.qasm").symlink_to(outside / "x.qasm")
    for circuit_path in ("/etc/passwd", "../../outside/x.qasm", "link.qasm"):
        code, report, output = profiles_of(project(tmp_path, circuit_path))
        assert code == 2, output
        (problem,) = report["results"][0]["error"]["problems"]
        assert problem["field"] == "spec.circuit.path" and problem["line"] == 12
        assert "is outside" in problem["message"] and SECRET not in output and "'root'" not in output
    (outside / "x.qasm").write_text((ROOT / "tests" / "fixtures" / "bell.qasm").read_text())
    code, _, output = profiles_of(project(tmp_path, "../../outside/x.qasm"), "--root", str(tmp_path))
    assert code == 0, output


@pytest.mark.slow
def test_examples_read_circuits_from_their_repository_tree():
    code, _, output = profiles_of(EXAMPLES / "allowed" / "bell-local.yaml")
    assert code == 0, output


QASM2_GATES = {"h": 1, "x": 1, "cx": 2, "ccx": 3, "rz(0.5)": 1}


def gate_definitions(draw, gates: dict[str, int], lines: list[str]) -> dict[str, int]:
    """Up to three gate definitions, each calling built-ins and the gates defined before it; returns gate → arity."""
    for index in range(draw(st.integers(0, 3))):
        arity = draw(st.integers(1, 3))
        params = [f"a{k}" for k in range(arity)]
        body = []
        for _ in range(draw(st.integers(1, 4))):
            name, width = draw(st.sampled_from(sorted((g, w) for g, w in gates.items() if w <= arity)))
            body.append(f"{name} {', '.join(draw(st.permutations(params))[:width])};")
        gates[f"mine{index}"] = arity
        lines.append(f"gate mine{index} {', '.join(params)} {{ {' '.join(body)} }}\n")
    return gates


@st.composite
def programs(draw) -> str:
    """Valid OpenQASM 2 programs: registers, nested gate definitions, calls on qubits and whole registers."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    lines = [QASM2] + [f"qreg q{i}[{n}];\ncreg c{i}[{n}];\n" for i, n in enumerate(sizes)]
    gates = gate_definitions(draw, dict(QASM2_GATES), lines)
    for _ in range(draw(st.integers(1, 8))):
        name, width = draw(st.sampled_from(sorted(gates.items())))
        register = draw(st.integers(0, len(sizes) - 1))
        if width == 1 and draw(st.booleans()):
            lines.append(f"{name} q{register};\n")
        elif width <= sizes[register]:
            qubits = draw(st.permutations(range(sizes[register])))[:width]
            lines.append(f"{name} {','.join(f'q{register}[{k}]' for k in qubits)};\n")
    lines.append(f"measure q0 -> c0;\nbarrier q0;\nreset q{len(sizes) - 1};\n")
    return "".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_the_scan_never_undercounts_what_qiskit_builds(text):
    scanned = scan_program(text, LIMITS)
    circuit = expand(parse_scanned(scanned, "generated.qasm"))
    assert (scanned.qubits, scanned.clbits) == (circuit.num_qubits, circuit.num_clbits)
    assert scanned.operations >= sum(circuit.count_ops().values())


QASM3_GATES = {"h": 1, "x": 1, "cx": 2, "ccx": 3, "rz(0.5)": 1, "inv @ s": 1, "ctrl @ x": 2}


@st.composite
def qasm3_programs(draw) -> str:
    """Valid OpenQASM 3 programs: registers, nested gates, modifiers, broadcasts and literal `for` loops."""
    size = draw(st.integers(1, 4))
    lines = [QASM3, f"qubit[{size}] q;\nqubit r;\nbit[{size}] c;\n"]
    gates = gate_definitions(draw, dict(QASM3_GATES), lines)

    def call() -> str:
        name, width = draw(st.sampled_from(sorted((g, w) for g, w in gates.items() if w <= size)))
        if width == 1 and draw(st.booleans()):
            return f"{name} q;"
        return f"{name} {', '.join(f'q[{k}]' for k in draw(st.permutations(range(size)))[:width])};"

    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            first, last = draw(st.integers(0, 3)), draw(st.integers(0, 3))
            lines.append(f"for int i in [{first}:{last}] {{ {' '.join(call() for _ in range(draw(st.integers(1, 3))))} }}\n")
        else:
            lines.append(call() + "\n")
    lines.append("h r;\nc = measure q;\n")
    return "".join(lines)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qasm3_programs())
def test_the_scan_never_undercounts_what_qiskit_builds_from_openqasm_3(text):
    test_the_scan_never_undercounts_what_qiskit_builds.hypothesis.inner_test(text)


def test_switch_counts_every_case():
    text = QASM3 + "qubit[2] q;\nswitch (x) { case 0 { h q; } case 1, 2 { x q[0]; } default { cx q[0], q[1]; } }\nh q;\n"
    assert scan_program(text, LIMITS).operations == 1 + 2 + 1 + 1 + 2


@pytest.mark.slow
def test_govern_check_keeps_antlr_syntax_errors_off_stderr(tmp_path):
    """ANTLR prints `line 6:12 no viable alternative…` to stderr by default; govern puts it in the error."""
    manifest = project(tmp_path, "c.qasm", QASM3 + "qubit[2] q;\nbit[2] c;\nh q[0];\nif (c == 1 { x q[0]; }\nc = measure q;\n")
    result = subprocess.run([sys.executable, "-m", "govern", "check", "-f", "json", str(manifest)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == "", result.stderr
    (problem,) = json.loads(result.stdout)["results"][0]["error"]["problems"]
    assert problem["message"] == "unexpected end of the program" and problem["line"] is not None
