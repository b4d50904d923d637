"""The configured policy engine over the configured bundle (a factory: nothing is built at import time)."""

from __future__ import annotations

from govern.policy.bundle import PolicyBundle, load_configured_bundle
from govern.policy.engines import EngineError, PolicyEngine
from govern.settings import Settings


def build_engine(settings: Settings, bundle: PolicyBundle | None = None) -> PolicyEngine:
    """The configured engine over the configured bundle; raises BundleError or EngineError (callers deny)."""
    bundle = bundle or load_configured_bundle(settings)
    if settings.engine == "opa":
        from govern.policy.engines.opa import RemoteEngine

        if not settings.opa_url:
            raise EngineError("engine 'opa' needs GOVERN_OPA_URL")
        return RemoteEngine(
            settings.opa_url,
            bundle.revision,
            expected_revision=settings.opa_bundle_revision or bundle.manifest_revision,
            bundle_name=settings.opa_bundle,
            catalogue=bundle.catalogue,
            ca_bundle=str(settings.opa_ca_bundle) if settings.opa_ca_bundle else None,
            client_cert=str(settings.opa_client_cert) if settings.opa_client_cert else None,
            token=settings.opa_token.get_secret_value() if settings.opa_token else None,
            timeout_s=settings.evaluation_timeout_s,
            allow_insecure_http=settings.opa_allow_insecure_http,
        )
    from govern.policy.engines.embedded import RegorusEngine

    engine = RegorusEngine(
        bundle,
        timeout_s=settings.evaluation_timeout_s,
        workers=settings.workers,
        memory_bytes=settings.evaluation_memory_mb << 20,
    )
    engine.warm()
    return engine
