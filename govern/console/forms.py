"""A submitted form the models refuse comes back with the refusal in words, beside the fields it names."""

from __future__ import annotations

from pydantic import ValidationError


def problems(exc: ValidationError, most: int = 5) -> str:
    """`budget: Input should be …`, or a model's own sentence (a sandbox window's 12-week limit), for the
    first `most` refusals."""
    said = []
    for error in exc.errors()[:most]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        said.append(f"{where}: {message}" if where else message)
    return "; ".join(said)
