"""Settings from `GOVERN_*` environment variables, built by a factory (never at import time)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from govern.circuit import CircuitLimits
from govern.policy.jws_algorithms import SignatureAlgorithm

CONFIG_VARIABLE = "GOVERN_CONFIG"



class BundleKey(BaseModel):
    """One entry of OPA's `keys` config: a key that may sign bundles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: SignatureAlgorithm = "RS256"
    key: SecretStr = Field(description="PEM public key or certificate (RS*, PS*, ES*), or the HMAC secret (HS*).")
    scope: str | None = None


class Settings(BaseSettings):
    """Every knob govern has; each one is documented in docs/reference.md's settings table."""

    model_config = SettingsConfigDict(env_prefix="GOVERN_", extra="ignore", frozen=True, hide_input_in_errors=True)
    """Errors never echo the values: a misplaced bundle secret or token would otherwise be printed."""

    bundle: Path | None = Field(default=None, description="Policy bundle folder or bundle.tar.gz; default: the bundle shipped with govern.")
    policy_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(), description="Team policy folders (packages under govern.custom) added to the bundle; a JSON list or paths joined by ':'."
    )
    bundle_keys: dict[str, BundleKey] = Field(
        default_factory=dict, description="Keys that verify signed bundles, by key id (OPA's `keys`); when set, only signed bundles load."
    )
    bundle_key_id: str | None = Field(default=None, description="Key id to verify bundles with (OPA's `signing.keyid`); default: the signature's `kid`.")
    bundle_scope: str | None = Field(default=None, description="Scope a bundle signature must carry (OPA's `signing.scope`); default: the key's.")
    engine: Literal["embedded", "opa"] = Field(
        default="embedded", description="Which engine evaluates policies: `embedded` (regorus, in-process) or `opa` (an OPA server)."
    )
    opa_url: str | None = Field(default=None, description="OPA server for the `opa` engine, https://host:port.")
    opa_bundle: str | None = Field(
        default=None, description="Name of the bundle holding govern's policies in the OPA server's configuration; default: its only bundle."
    )
    opa_bundle_revision: str | None = Field(
        default=None,
        description="Bundle revision the OPA server must report for every decision (else it is denied); default: the local bundle's `.manifest` revision.",
    )
    opa_ca_bundle: Path | None = Field(default=None, description="CA certificates that verify the OPA server.")
    opa_client_cert: Path | None = Field(default=None, description="Client certificate (PEM with key) for mutual TLS to OPA.")
    opa_token: SecretStr | None = Field(default=None, description="Bearer token for the OPA server.")
    opa_allow_insecure_http: bool = Field(default=False, description="Allow a plain-http OPA url (never in production).")
    evaluation_timeout_s: PositiveFloat = Field(
        default=5.0, description="Longest a policy evaluation may take before its evaluator process is killed and the decision denied."
    )
    evaluation_memory_mb: PositiveInt = Field(
        default=1024, description="Memory an evaluator process may take on beyond the loaded bundle; an evaluation past it is denied."
    )
    profile_timeout_s: PositiveFloat = Field(
        default=10.0, description="Longest profiling one circuit may take (wall clock and CPU) before its profiling process is killed and the circuit refused."
    )
    profile_memory_mb: PositiveInt = Field(
        default=1024, description="Memory a circuit profiling process may take on for one circuit; a circuit past it is refused and the process replaced."
    )
    profile_cache_bytes: NonNegativeInt = Field(
        default=32 << 20, description="Bytes of circuit text whose profiles (and refusals) a checker remembers, least recently used first out; 0: none."
    )
    max_manifest_bytes: PositiveInt = Field(default=1_000_000, description="Largest manifest or context file accepted.")
    max_circuit_bytes: PositiveInt = Field(default=1_000_000, description="Largest OpenQASM file accepted.")
    max_circuit_operations: PositiveInt = Field(default=200_000, description="Most operations a circuit may have, once its gates and loops are expanded.")
    max_circuit_qubits: PositiveInt = Field(default=1_000, description="Most qubits a circuit may declare; checked before Qiskit builds it.")
    max_circuit_clbits: PositiveInt = Field(default=10_000, description="Most classical bits a circuit may declare; checked before Qiskit builds it.")
    workers: PositiveInt | None = Field(default=None, description="Parallel checks in `govern check`; default: CPU count.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the service database; default: a SQLite file in the user data folder.",
    )

    max_request_bytes: PositiveInt = Field(default=2_000_000, description="Largest HTTP request body the service accepts.")
    max_header_bytes: PositiveInt = Field(
        default=65_536, description="Most bytes of request line and headers `govern serve` reads before it answers 431 and closes."
    )
    audit_signing_key: Path | None = Field(
        default=None, description="Ed25519 private key (PEM) that signs decision-log checkpoints, record proofs and evidence packs."
    )
    audit_log_origin: str = Field(
        default="govern/decision-log", min_length=1, max_length=256, pattern=r"^[^\s+]+$",
        description="The decision log's name in its signed checkpoints (C2SP tlog-checkpoint origin): a schema-less URL, unique per log, e.g. govern.example.com/decision-log.",
    )
    server: str | None = Field(default=None, description="URL of the govern service the CLI client talks to.")
    token: SecretStr | None = Field(default=None, description="API token the CLI client sends to the service.")
    migrate_on_start: bool = Field(default=False, description="Apply database migrations when `govern serve` starts.")
    lineage_delivery: bool = Field(
        default=True, description="Deliver OpenLineage events from the outbox in the service (turn off where another process does)."
    )
    request_threads: PositiveInt = Field(
        default=8, le=256,
        description="Requests a service process works on at once in its thread pool; more only contend for the GIL and the database pool.",
    )
    token_cache_s: NonNegativeFloat = Field(
        default=5.0, description="Seconds the service remembers an authenticated token (a revoked one works that long at most; 0: never)."
    )
    console_idle_s: PositiveInt = Field(
        default=1800, le=86_400, description="Seconds a console session may sit idle before it must sign in again."
    )
    console_session_s: PositiveInt = Field(
        default=43_200, le=604_800, description="Seconds a console session lasts at most, however active, before it must sign in again."
    )
    lineage_poll_s: PositiveFloat = Field(default=2.0, description="Seconds between lineage delivery passes when nothing wakes the deliverer.")
    lineage_max_attempts: PositiveInt = Field(
        default=10, description="Delivery attempts of a lineage event before it is parked with its error and stops holding back its run."
    )
    ibm_mode: Literal["local", "cloud"] = Field(
        default="local",
        description="How `ibm/<device>` jobs run: `local` simulates the device's calibration snapshot offline, `cloud` uses IBM Quantum Platform.",
    )
    worker_lease_s: PositiveFloat = Field(default=30.0, description="How long a worker's claim on a job lasts without a heartbeat; a dead worker's job is taken over after it.")
    worker_poll_s: PositiveFloat = Field(default=1.0, description="Seconds an idle worker waits before looking at the queue again.")
    job_timeout_s: PositiveFloat = Field(default=300.0, description="Longest a dispatched job may run, counted from its first submission, before it is cancelled and failed.")
    reproduce_limit: PositiveInt = Field(
        default=10, description="Reproductions one token may ask for per GOVERN_REPRODUCE_WINDOW_S, counted from the decision log (429 beyond)."
    )
    reproduce_window_s: PositiveFloat = Field(default=3600.0, description="The window, in seconds, that GOVERN_REPRODUCE_LIMIT counts over.")

    job_memory_mb: PositiveInt = Field(
        default=4096, description="Memory a local simulation (Aer, IBM fake devices) may take on in its run process; a run past it is killed and its job failed."
    )

    @field_validator("policy_dirs", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        """GOVERN_POLICY_DIRS as a JSON list, or as paths joined like PATH."""
        if isinstance(value, str):
            return json.loads(value) if value.lstrip().startswith("[") else [part for part in value.split(os.pathsep) if part]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then GOVERN_* environment variables, then the file GOVERN_CONFIG names (TOML or
        YAML, the same keys in lower case), then defaults."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_VARIABLE)
        if config:
            path = Path(config)
            if not path.is_file():
                raise ValueError(f"{CONFIG_VARIABLE} names {path}, which is not a file")
            if path.suffix in {".yaml", ".yml"}:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            else:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def resolved_database_url(self) -> str:
        """The configured database, or the embedded SQLite file (its folder is created on first use)."""
        if self.database_url:
            return self.database_url
        folder = Path(platformdirs.user_data_dir("govern"))
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'govern.db'}"

    @property
    def circuit_limits(self) -> CircuitLimits:
        return CircuitLimits(
            max_bytes=self.max_circuit_bytes,
            max_operations=self.max_circuit_operations,
            max_qubits=self.max_circuit_qubits,
            max_clbits=self.max_circuit_clbits,
        )


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides (from CLI options) on top."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
