"""The JWS algorithms a bundle signature may use, as OPA's bundle signing names them."""

from typing import Literal

SignatureAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"
]
