"""Killable worker processes: a call past its deadline or its memory cap kills only its own child, which is
replaced; circuit profiling runs in such a pool, and its cache holds under its byte bound."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from govern.check.checker import Checker
from govern.circuit import CircuitLimits, CircuitProfile
from govern.circuit.profiling import ProfileCache, Profiler, ProfilingRefused
from govern.errors import InputError
from govern.manifest.documents import load_documents
from govern.policy.engines import UnavailableEngine
from govern.process_pool import CallTimeout, MemoryExceeded, PoolBusy, ProcessDied, ProcessPool, StartFailed
from govern.submission import Submission, submission_from_document
from tests.api.test_api import example
from tests.conftest import EXAMPLES
from tests.live_service import running_service

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
HUGE_REGISTER = "OPENQASM 2.0;\nqreg q[1000000000];\n"
SLOW = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[10000];\n' + "h q;\n" * 1000
UNSCANNED = CircuitLimits(max_qubits=2_000_000_000, max_operations=20_000_000)
"""Limits the pre-Qiskit scan lets both circuits through, so that what stops them is the profiling process's."""
UNSCANNED_ENV = {"GOVERN_MAX_CIRCUIT_QUBITS": "2000000000", "GOVERN_MAX_CIRCUIT_OPERATIONS": "20000000"}
"""Parsing expands each `h q;` into 10,000 gates before any limit can count them: tens of seconds."""

CHILD = textwrap.dedent("""
    import sys, time
    from govern import process_pool

    def start(setup):
        if setup.get("refuse"):
            raise process_pool.StartRefused("refused: " + setup["refuse"])
        def answer(request):
            verb, _, argument = request.partition(b" ")
            if verb == b"sleep":
                time.sleep(float(argument))
            elif verb == b"spin":
                while True:
                    pass
            elif verb == b"allocate":
                hoard = [bytearray(1 << 20) for _ in range(int(argument))]
            elif verb == b"raise":
                raise ValueError("as asked")
            elif verb == b"exit":
                sys.exit(3)
            return process_pool.ANSWERED + request
        return answer

    process_pool.quiet_child()
    process_pool.serve(sys.stdin.buffer, sys.stdout.buffer, start)
""")


@pytest.fixture
def child_program(tmp_path):
    program = tmp_path / "child.py"
    program.write_text(CHILD)
    return [sys.executable, "-P", str(program)]


def gone(pid: int) -> bool:
    """The process has ended and been reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_until(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_call_past_its_deadline_kills_only_its_own_child_which_is_replaced(child_program):
    pool = ProcessPool(child_program, {}, 2, memory_bytes=256 << 20)
    with pool.checkout(10) as one, pool.checkout(10) as other:
        assert one.call(b"echo", time.monotonic() + 10) == other.call(b"echo", time.monotonic() + 10) == (b"R", b"echo")
    children = {p.pid for p in pool.processes()}
    with pytest.raises(CallTimeout, match="did not answer in time and was killed"):
        pool.call(b"sleep 30", 0.5)
    (survivor,) = {p.pid for p in pool.processes()}
    (killed,) = children - {survivor}
    assert gone(killed)  # only the late call's child
    assert pool.call(b"echo again", 10) == (b"R", b"echo again")
    pool.close()


def test_a_call_past_the_memory_cap_is_refused_and_its_child_replaced(child_program):
    pool = ProcessPool(child_program, {}, 1, memory_bytes=64 << 20)
    pool.call(b"echo", 10)
    (first,) = pool.processes()
    with pytest.raises(MemoryExceeded, match="ran past its memory cap"):
        pool.call(b"allocate 512", 30)
    assert gone(first.pid)
    assert pool.call(b"allocate 16", 10)[0] == b"R"
    assert pool.call(b"allocate 48", 10)[0] == b"R"  # each call has its own budget above what the child holds
    pool.close()


@pytest.mark.slow
def test_the_cpu_deadline_stops_a_spinning_child_even_if_nobody_waits_for_it(child_program):
    pool = ProcessPool(child_program, {}, 1, memory_bytes=0, cpu_s=1)
    with pytest.raises(ProcessDied, match="SIGXCPU"):
        pool.call(b"spin", 30)
    pool.close()


def test_errors_deaths_busy_pools_and_refused_setups_have_their_own_exception_types(child_program):
    pool = ProcessPool(child_program, {}, 1, memory_bytes=0)
    assert pool.call(b"raise", 10) == (b"E", b"ValueError: as asked")
    with pytest.raises(ProcessDied, match=r"ended \(exit code 3\)"):
        pool.call(b"exit", 10)
    with pool.checkout(10), pytest.raises(PoolBusy, match="no worker process was free within 0.1s"):
        pool.call(b"echo", 0.1)
    pool.close()
    with pytest.raises(StartFailed, match="refused: no"):
        ProcessPool(child_program, {"refuse": "no"}, 1, memory_bytes=0).call(b"echo", 10)


def test_a_warm_pool_replaces_a_killed_child_in_the_background(child_program):
    pool = ProcessPool(child_program, {}, 1, memory_bytes=0)
    pool.warm()
    assert wait_until(lambda: pool.processes())
    (first,) = pool.processes()
    with pytest.raises(CallTimeout):
        pool.call(b"sleep 30", 0.2)
    assert wait_until(lambda: pool.processes() and pool.processes()[0].pid != first.pid)
    pool.close()
    assert pool.processes() == []


# Circuit profiling.


@pytest.mark.slow
def test_profiles_cross_the_pipe_intact_and_invalid_circuits_keep_their_line_and_column():
    profiler = Profiler(size=1)
    profile = profiler.profile(BELL, "bell.qasm", CircuitLimits())
    assert isinstance(profile, CircuitProfile) and profile.qubits == 2 and profile.ops == {"h": 1, "cx": 1, "measure": 2}
    with pytest.raises(InputError) as raised:
        profiler.profile("OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n", "bad.qasm", CircuitLimits())
    (problem,) = raised.value.problems
    assert raised.value.source == "bad.qasm" and (problem.line, problem.column) == (3, 1) and "foo" in problem.message
    profiler.close()


@pytest.mark.slow
def test_a_circuit_past_the_profiling_memory_cap_is_refused_and_the_next_is_profiled_by_a_fresh_child():
    profiler = Profiler(memory_bytes=64 << 20, size=1)
    profiler.profile(BELL, "bell.qasm", CircuitLimits())
    (first,) = profiler.processes()
    with pytest.raises(ProfilingRefused, match=r"circuit profiling exceeded its memory cap \(64 MB\)") as raised:
        profiler.profile(HUGE_REGISTER, "huge.qasm", UNSCANNED)
    assert raised.value.source == "huge.qasm"
    assert gone(first.pid)
    assert profiler.profile(BELL, "bell.qasm", CircuitLimits()).qubits == 2
    assert [p.pid for p in profiler.processes()] != [first.pid]
    profiler.close()


@pytest.mark.slow
def test_a_circuit_past_the_profiling_deadline_is_refused_and_the_next_is_profiled():
    profiler = Profiler(timeout_s=1.0, size=1)
    profiler.profile(BELL, "bell.qasm", CircuitLimits())
    started = time.monotonic()
    with pytest.raises(ProfilingRefused, match=r"circuit profiling exceeded its deadline \(1 s\)"):
        profiler.profile(SLOW, "slow.qasm", UNSCANNED)
    assert time.monotonic() - started < 5
    assert profiler.profile(BELL, "bell.qasm", CircuitLimits()).qubits == 2
    profiler.close()


class Counting:
    """A profiler stand-in that answers at once, counting calls: the cache, not profiling, is under test."""

    def __init__(self):
        self.calls = 0

    def profile(self, text, source, limits, include_dir=None, **options):
        self.calls += 1
        if text.startswith("bad"):
            raise InputError(source, "invalid")
        return CircuitProfile(format="qasm2", qubits=1, clbits=0, size=0, depth=0, two_qubit_depth=0, non_local_gates=0, ops={}, sha256="x")


def submission(text: str) -> Submission:
    (document,) = load_documents(next(EXAMPLES.rglob("bell-local.yaml")), 1_000_000)
    return dataclasses.replace(submission_from_document(document, 1_000_000), circuit_text=text, circuit_source="c.qasm")


def profile_or_refusal(checker: Checker, text: str) -> CircuitProfile | InputError:
    try:
        return checker.profile(submission(text))
    except InputError as exc:
        return exc


def test_the_profile_cache_remembers_profiles_and_refusals_under_its_byte_bound():
    profiler = Counting()
    entry = 100_000 + ProfileCache.ENTRY_OVERHEAD
    checker = Checker(UnavailableEngine("none"), profiler=profiler, profile_cache_bytes=3 * entry)  # type: ignore[arg-type]
    circuits = [f"{prefix}{i}".ljust(100_000) for i in range(6) for prefix in ("ok", "bad")]
    for _ in range(2):
        for text in circuits:
            profile_or_refusal(checker, text)
    assert profiler.calls == 2 * len(circuits)  # more distinct circuits than fit: each is profiled again
    assert len(checker._profiles) == 3 and checker._profiles.bytes <= 3 * entry
    calls = profiler.calls
    remembered = [profile_or_refusal(checker, text) for text in circuits[-3:]]  # the most recent, refusals included
    assert profiler.calls == calls and [isinstance(r, InputError) for r in remembered] == [True, False, True]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 50_000)), max_size=200), st.integers(0, 200_000))
def test_the_cache_never_holds_more_than_its_bound(puts, bound):
    cache = ProfileCache(bound)
    for key, size in puts:
        cache.put(key.to_bytes(2, "big"), size, InputError("c", "x"))
        assert cache.bytes <= bound
        if size + ProfileCache.ENTRY_OVERHEAD <= bound:
            assert cache.get(key.to_bytes(2, "big")) is not None
    assert cache.bytes == sum(cost for _, cost in cache._entries.values())


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:", 1)[1].split()[0]) * 1024


@pytest.mark.slow
def test_three_hundred_distinct_large_invalid_circuits_do_not_grow_the_process():
    """The issue's case: 300 distinct 900 KB circuits, invalid, through the real profiling pool."""
    checker = Checker(UnavailableEngine("none"), profiler=Profiler(size=1), profile_cache_bytes=8 << 20)
    checker.profile(submission(BELL))
    before = rss_bytes()
    for i in range(300):
        refusal = profile_or_refusal(checker, f"OPENQASM 2.0;\nbogus {i};\n// " + "x" * 900_000 + "\n")
        assert isinstance(refusal, InputError) and "invalid OpenQASM 2" in str(refusal)
    assert rss_bytes() - before < 100 << 20
    assert checker._profiles.bytes <= 8 << 20


def write_experiment(folder, name: str, circuit: str) -> None:
    manifest, _ = example("bell-local")
    (folder / f"{name}.qasm").write_text(circuit)
    document = {**manifest, "metadata": {**manifest["metadata"], "name": name},
                "spec": {**manifest["spec"], "circuit": {"path": f"{name}.qasm"}}}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(document))


@pytest.mark.slow
def test_the_cli_refuses_a_circuit_that_exhausts_profiling_and_checks_the_rest(tmp_path):
    write_experiment(tmp_path, "huge", HUGE_REGISTER)
    write_experiment(tmp_path, "bell", BELL)
    environment = {**os.environ, "GOVERN_PROFILE_MEMORY_MB": "64", **UNSCANNED_ENV}
    finished = subprocess.run([sys.executable, "-m", "govern", "check", "--format", "json", str(tmp_path)], env=environment,
                              capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2, finished.stderr
    assert "circuit profiling exceeded its memory cap (64 MB)" in finished.stdout
    assert '"bell"' in finished.stdout and "Traceback" not in finished.stderr


@pytest.mark.slow
def test_the_service_refuses_such_a_circuit_with_422_and_stays_up(database_url, cli, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    with running_service(database_url, env={"GOVERN_PROFILE_MEMORY_MB": "64", **UNSCANNED_ENV}) as url:
        secret = cli("token", "create", "--role", "submitter", "--team", "platform-qa").stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {secret}"}
        manifest, circuit = example("bell-local")
        for _ in range(3):
            refused = httpx.post(f"{url}/v1/check", json={"manifest": manifest, "circuit": HUGE_REGISTER}, headers=headers, timeout=30)
            assert refused.status_code == 422 and "memory cap" in refused.json()["problems"][0]["message"]
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        allowed = httpx.post(f"{url}/v1/check", json={"manifest": manifest, "circuit": circuit}, headers=headers, timeout=30)
        assert allowed.status_code == 200 and allowed.json()["decision"]["allow"], allowed.json()
