"""The remote engine: a real OPA server, reached through opa-python-client over TLS.

opa-python-client speaks plain http unless told otherwise; here https is the default and plain http
needs an explicit opt-in. The server must be loaded with the same bundle: every query asks OPA for its
provenance, a decision whose bundle revision is not the expected one is denied, and OPA's own decision id
and revision are recorded with the decision.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from govern.policy.engines import EngineError, PolicyEngine


class RemoteEngine(PolicyEngine):
    name = "opa"

    def __init__(
        self,
        url: str,
        bundle_revision: str,
        *,
        expected_revision: str,
        bundle_name: str | None = None,
        catalogue: dict[str, dict[str, Any]] | None = None,
        ca_bundle: str | None = None,
        client_cert: str | tuple[str, str] | None = None,
        token: str | None = None,
        timeout_s: float = 5.0,
        allow_insecure_http: bool = False,
    ):
        parts = urlsplit(url)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise EngineError(f"OPA url must look like https://host:port, got {url!r}")
        if parts.scheme == "http" and not allow_insecure_http:
            raise EngineError("OPA url uses plain http; use https, or allow insecure http explicitly")
        tls = parts.scheme == "https"
        self._revision = bundle_revision
        self._expected_revision = expected_revision
        self._bundle_name = bundle_name
        self._catalogue = catalogue or {}
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if tls else 8181),
            ssl=(ca_bundle or True) if tls else False,
            cert=client_cert,
            token=token,
            timeout=timeout_s,
            retries=0,
        )
        if ca_bundle:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA bundle; the one
            # configured for OPA must win, so the session ignores those environment settings.
            self._client._session.trust_env = False

    @property
    def bundle_revision(self) -> str:
        return self._revision

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        return self._catalogue

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        return self.query_with_provenance(entrypoint, policy_input, canonical)[0]

    def query_with_provenance(
        self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes
    ) -> tuple[Any, dict[str, Any]]:
        package, _, rule = entrypoint.rpartition("/")
        try:
            response = self._client.query_rule(
                policy_input, package_path=package, rule_name=rule, query_params={"provenance": "true"}
            )
        except requests.exceptions.SSLError as exc:
            raise EngineError(f"TLS verification of the OPA server failed: {exc.__class__.__name__}") from None
        except requests.exceptions.Timeout:
            raise EngineError("the OPA server did not answer in time") from None
        except requests.exceptions.HTTPError as exc:
            answered = f"HTTP {exc.response.status_code}" if exc.response is not None else "an HTTP error"
            raise EngineError(f"the OPA server answered {answered}") from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise EngineError(f"the OPA server could not be reached or answered garbage: {exc.__class__.__name__}") from None
        if not isinstance(response, dict) or "result" not in response:
            raise EngineError(f"the OPA server returned no result for {entrypoint} (is the bundle loaded?)")
        return response["result"], self._provenance(response)

    def _provenance(self, response: dict[str, Any]) -> dict[str, Any]:
        """OPA's decision id and the revision of the bundle it decided with; a revision other than the
        expected one means the server runs other policies than govern was configured with: deny."""
        provenance = response.get("provenance")
        reported = provenance if isinstance(provenance, dict) else {}
        bundles = reported.get("bundles")
        if not isinstance(bundles, dict) or not bundles:
            raise EngineError("the OPA server reported no bundle provenance, so the policies it used are unknown")
        if self._bundle_name is None and len(bundles) != 1:
            raise EngineError(f"the OPA server runs {len(bundles)} bundles; configure which one holds govern's policies")
        name = self._bundle_name or next(iter(bundles))
        entry = bundles.get(name)
        revision = entry.get("revision") if isinstance(entry, dict) else None
        if revision != self._expected_revision:
            raise EngineError(
                f"the OPA server decided with bundle {name!r} at revision {revision!r}, not the expected {self._expected_revision!r}"
            )
        decision_id = response.get("decision_id")
        return {
            "engine": self.name,
            "decisionId": decision_id if isinstance(decision_id, str) else None,
            "bundle": name,
            "revision": revision,
            "opaVersion": reported.get("version"),
        }

    def close(self) -> None:
        self._client.close_connection()
