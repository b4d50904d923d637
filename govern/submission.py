"""A submission: a validated Experiment together with its circuit's text, ready to be profiled."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from govern.circuit.paths import contained, default_tree
from govern.errors import InputError, Problem
from govern.manifest.documents import Document, read_text
from govern.manifest.schema import Experiment
from govern.secrets import SecretFinding, redacted_circuit


@dataclass(frozen=True)
class Submission:
    """`circuit_text` is held redacted: a secret in a comment or string literal of the circuit never reaches
    its profile (nor so the sha256 it records), a job or lineage; `circuit_secrets` names what was found."""

    experiment: Experiment
    circuit_text: str
    circuit_source: str
    source: str
    circuit_dir: Path | None = None
    locations: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    circuit_root: Path | None = None
    """The folder tree the circuit's includes must stay inside (the manifest's folder, or --root)."""

    circuit_secrets: tuple[SecretFinding, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        where = "spec.circuit.qasm" if self.experiment.spec.circuit.qasm is not None else "spec.circuit.path"
        text, found = redacted_circuit(self.circuit_text, where)
        object.__setattr__(self, "circuit_text", text)
        object.__setattr__(self, "circuit_secrets", tuple(found))


def submission_from_request(document: Document, circuit_text: str | None, max_circuit_bytes: int) -> Submission:
    """A submission sent over the API: the circuit comes in the request, or inline in the manifest."""
    experiment = document.validate(Experiment)
    text = experiment.spec.circuit.qasm if experiment.spec.circuit.qasm is not None else circuit_text
    if text is None:
        raise InputError(document.source, Problem("the manifest names a circuit file; send its OpenQASM as 'circuit'", "circuit"))
    if len(text.encode()) > max_circuit_bytes:
        raise InputError(document.source, Problem(f"circuit is over the {max_circuit_bytes}-byte limit", "circuit"))
    return Submission(experiment, text, f"{document.source}#circuit", document.source)


def circuit_tree(document: Document, root: Path | None) -> Path:
    return Path(os.path.realpath(root)) if root else default_tree(Path(document.source).parent)


def circuit_path(document: Document, name: str, root: Path | None = None) -> Path:
    """The circuit file a manifest names, relative to it, when it lies inside the manifest's folder tree (see
    `default_tree`) or `root`; a path leading outside is refused before anything of it is read."""
    folder, tree = Path(document.source).parent, circuit_tree(document, root)
    path = contained(folder, name, tree)
    line, column = document.locate("spec.circuit.path")
    if path is None:
        raise InputError(
            document.source,
            Problem(
                f"circuit file {name!r} is outside {tree}: circuits are read only inside the manifest's folder tree (or --root)",
                "spec.circuit.path", line, column,
            ),
        )
    if not path.is_file():
        raise InputError(document.source, Problem(f"circuit file {name!r} not found next to the manifest", "spec.circuit.path", line, column))
    return path


def submission_from_document(document: Document, max_circuit_bytes: int, *, root: Path | None = None) -> Submission:
    """Validate the manifest and fetch its circuit (a file inside the manifest's folder tree or `root`, or inline QASM)."""
    experiment = document.validate(Experiment)
    circuit = experiment.spec.circuit
    if circuit.qasm is not None:
        if len(circuit.qasm.encode()) > max_circuit_bytes:
            line, column = document.locate("spec.circuit.qasm")
            raise InputError(
                document.source,
                Problem(f"inline circuit is over the {max_circuit_bytes}-byte limit", "spec.circuit.qasm", line, column),
            )
        return Submission(experiment, circuit.qasm, f"{document.source}#spec.circuit.qasm", document.source, None, document.locations)
    assert circuit.path is not None  # a CircuitRef holds exactly one of qasm and path
    path = circuit_path(document, circuit.path, root)
    text = read_text(path, max_circuit_bytes)
    shown = Path(document.source).parent / circuit.path
    return Submission(experiment, text, str(shown), document.source, path.parent, document.locations, circuit_tree(document, root))
