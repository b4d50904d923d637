"""What `govern policy check` reports about a bundle: one problem at a file and line, fatal or a warning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BundleProblem:
    path: str
    line: int
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {'error' if self.fatal else 'warning'}: {self.message}"
