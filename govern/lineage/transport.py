"""An OpenLineage transport into govern's own lineage store, for teams without Marquez.

It is a regular openlineage-python transport (typed config, `Transport` subclass), so it can also be named
in `openlineage.yml` as `type: govern.lineage.transport.StoreTransport` with `url:` a database URL. With
no OpenLineage configuration at all, the service delivers its events here.
"""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.serde import Serde
from openlineage.client.transport.transport import Config, Transport
from sqlalchemy import Engine

from govern.db.database import create_db_engine, session_scope
from govern.lineage.store import write


@attr.define
class StoreConfig(Config):
    url: str | None = None
    """SQLAlchemy URL of the govern database that holds the lineage store."""

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> StoreConfig:
        return cls(url=params.get("url"))


class StoreTransport(Transport):
    kind = "govern"
    config_class = StoreConfig

    def __init__(self, config: StoreConfig, database: Engine | None = None) -> None:
        self.config = config
        if database is None:
            if not config.url:
                raise ValueError("the govern lineage transport needs `url`, the database of the lineage store")
            database = create_db_engine(config.url)
        self.database = database

    def emit(self, event: Any) -> None:
        with session_scope(self.database) as session:
            write.ingest(session, Serde.to_dict(event))
