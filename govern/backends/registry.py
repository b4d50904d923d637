"""The plugin registry: each vendor's backend factory, found through the `govern.backends` entry points.

Vendors register a factory under the `govern.backends` entry-point group (the built-ins do too, in
pyproject.toml), so the worker dispatches to every vendor the same way and a new vendor is an installed
package, not a change here. Entry points are read when a backend is asked for, never at import, and
`get_backend` loads only the vendor asked for, so a broken plugin breaks only its own vendor's dispatches.

A factory is `callable(device, *, credentials, **options) -> Backend` and ignores what it does not use. It
may list its devices with `@lists_devices(...)`, so that `known_backends()` and error messages can name
them, and declare a typed config of its own with `@configured_by(...)` (as openlineage's transports have a
config class each): it is then also given `config`, built from the settings, so a setting one vendor reads
never travels through the generic signatures. A vendor whose SDK is an optional extra imports it with
`vendor_sdk` inside the factory, so a missing extra fails that vendor's dispatches with the pip command,
not the import of the plugin.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, Self, TypeVar

from govern.backends.base import Backend, BackendError, UnknownBackend
from govern.distribution import DISTRIBUTION

if TYPE_CHECKING:
    from govern.settings import Settings

ENTRY_POINT_GROUP = "govern.backends"


class BackendConfig(Protocol):
    """A plugin's own settings, typed: built from govern's settings, or its defaults where there are none."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self: ...


Factory = Callable[..., Backend]
FactoryT = TypeVar("FactoryT", bound=Factory)


def lists_devices(devices: Callable[[], Iterable[str]]) -> Callable[[FactoryT], FactoryT]:
    """Attach a device lister to a vendor factory, for `known_backends()` and error messages."""

    def attach(factory: FactoryT) -> FactoryT:
        factory.devices = devices  # type: ignore[attr-defined]
        return factory

    return attach


def configured_by(config_class: type[BackendConfig]) -> Callable[[FactoryT], FactoryT]:
    """Declare the config a vendor factory is given as `config`, built by `get_backend` from the settings."""

    def attach(factory: FactoryT) -> FactoryT:
        factory.config_class = config_class  # type: ignore[attr-defined]
        return factory

    return attach


@functools.cache
def _vendor_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """The installed vendor plugins, found once per process: reading every distribution's metadata takes
    about 13 ms, which every dispatched job would pay again (a plugin installed later needs a restart)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def _load_factory(entry_point: importlib.metadata.EntryPoint) -> Factory:
    plugin = f"backend plugin {entry_point.name!r} ({entry_point.value})"
    try:
        loaded = entry_point.load()
    except Exception as exc:
        raise BackendError(f"{plugin} cannot be loaded: {exc}") from exc
    if not callable(loaded):
        raise BackendError(f"{plugin} is not a factory")
    factory: Factory = loaded  # an entry point loads any object: being callable is all that can be checked
    return factory


def get_backend(
    vendor: str, device: str, *, credentials: Mapping[str, str] | None = None, settings: Settings | None = None
) -> Backend:
    """The backend for `vendor/device`, from the plugin that registered the vendor; a plugin with a config of
    its own gets it built from `settings` (its defaults when there are none)."""
    entry_points = _vendor_entry_points()
    if vendor not in entry_points:
        installed = ", ".join(sorted(entry_points)) or "none"
        raise UnknownBackend(f"unknown backend vendor {vendor!r}; installed vendors: {installed}")
    factory = _load_factory(entry_points[vendor])
    config_class = getattr(factory, "config_class", None)
    try:
        if config_class is None:
            backend = factory(device, credentials=credentials)
        else:
            config = config_class() if settings is None else config_class.from_settings(settings)
            backend = factory(device, credentials=credentials, config=config)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"backend plugin {vendor!r} cannot provide device {device!r}: {exc}") from exc
    if not isinstance(backend, Backend):
        raise BackendError(f"backend plugin {vendor!r} returned {type(backend).__name__}, not a Backend")
    return backend


def known_backends() -> list[str]:
    """Every `vendor/device` the installed plugins list; `vendor/*` for a plugin that does not list devices."""
    keys: list[str] = []
    for vendor, entry_point in _vendor_entry_points().items():
        devices = getattr(_load_factory(entry_point), "devices", None)
        if devices is None:
            keys.append(f"{vendor}/*")
        else:
            keys.extend(f"{vendor}/{device}" for device in devices())
    return sorted(keys)


def unknown_device(vendor: str, device: str, devices: Iterable[str]) -> UnknownBackend:
    return UnknownBackend(f"unknown {vendor} device {device!r}; {vendor} devices: {', '.join(sorted(devices))}")


def vendor_sdk(module: str, extra: str) -> ModuleType:
    """Import a vendor SDK that an optional extra installs; a BackendError with the pip command if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendError(f"{module} is not installed ({exc}); install it with: pip install '{DISTRIBUTION}[{extra}]'") from None
