"""`govern lineage`, for compliance and data owners, against the service: the lineage graph around a dataset
or an experiment, the delivery outbox, and an export of the stored OpenLineage events."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from govern.cli.common import (
    ServerOption,
    call_service,
    client_errors,
    client_or_exit,
    command_group,
    settings_or_exit,
    write_json,
)

lineage_app = command_group("Lineage on the service: the graph around a node, delivery status, export.")


@lineage_app.command("show")
def lineage_show(
    node_id: Annotated[str, typer.Argument(help="dataset:<namespace>:<name> or job:<namespace>:<name>.")],
    depth: Annotated[int, typer.Option("--depth", min=0, max=20, help="How many hops to follow.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON (Marquez's shape).")] = False,
    server: ServerOption = None,
) -> None:
    """The lineage graph around a dataset or an experiment: which data went in, which runs read it."""
    from rich.console import Console  # lazy: start-up time (rich)

    with client_errors():
        _, body = client_or_exit(settings_or_exit(), server).request("GET", "/api/v1/lineage", params={"nodeId": node_id, "depth": depth})
    if as_json:
        write_json(body)
        return
    console = Console(highlight=False)
    for node in body.get("graph", []):
        console.print(node["id"], markup=False)
        for edge in node.get("outEdges", []):
            console.print(f"  -> {edge['destination']}", markup=False)


@lineage_app.command("status")
def lineage_status(server: ServerOption = None) -> None:
    """Lineage delivery: events waiting in the outbox, failing ones, the oldest and the last error."""
    call_service(server, "GET", "/v1/lineage/outbox")


@lineage_app.command("export")
def lineage_export(
    since: Annotated[Optional[int], typer.Option("--since", help="Only events stored after this event id.")] = None,
    server: ServerOption = None,
) -> None:
    """Stream the stored OpenLineage events as JSON Lines (to replay into another backend)."""
    with client_errors():
        for line in client_or_exit(settings_or_exit(), server).stream_lines("/api/v1/lineage/events", params={"since": since} if since else {}):
            sys.stdout.write(line + "\n")
