"""The credentials a job names, resolved by the worker only when its backend reads one.

A manifest names credentials by reference (`env:VAR`), never by value, so a job row holds no secret; the
worker resolves a reference from its own environment just before the vendor is called.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from govern.backends.base import BackendError


class CredentialError(BackendError):
    """A credential reference the worker cannot resolve; the job fails without reaching the vendor."""


class CredentialReferences(Mapping[str, str]):
    """Manifest credentials are references (`env:VAR`); they are resolved only when a backend reads one,
    just before use, so a backend that needs none (a simulator) never asks."""

    def __init__(self, references: Mapping[str, str], environ: Mapping[str, str]):
        self._references, self._environ = dict(references), environ

    def __getitem__(self, key: str) -> str:
        reference = self._references[key]
        scheme, _, name = reference.partition(":")
        if scheme != "env" or not name:
            raise CredentialError(f"credential {key!r}: only env:VAR references can be resolved by this worker, not {scheme!r}")
        if name not in self._environ:
            raise CredentialError(f"credential {key!r}: environment variable {name} is not set for the worker")
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._references)

    def __len__(self) -> int:
        return len(self._references)
