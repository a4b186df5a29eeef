"""`osml lock`, `osml state` and `osml import`: inspect and repair what osml remembers.

`lock status` shows who holds the state lock; `lock force-unlock ID` removes a lock left
by a crashed run. `state list|show|rm` read and forget state records without touching
the resources themselves; `import KIND/NAME ID` puts one existing live resource under
management, so the next plan compares it instead of creating a new one.
"""

from __future__ import annotations

import json

import click

from reconciler.cli.base import main
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.locking import force_unlock, lock_status
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import delete_record, read_state, write_record
from reconciler.errors import PlanError
from reconciler.resources import Kind, ResourceKey
from reconciler.secrets import scrub


def _key(text: str) -> ResourceKey:
    try:
        return ResourceKey.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="KIND/NAME") from exc


@main.group()
def lock() -> None:
    """Inspect or break the state lock."""


@lock.command("status")
@cluster_options
def lock_status_command(*, cluster: ClusterOptions) -> None:
    """Show who holds the state lock, if anyone."""
    with connected(cluster) as conn:
        info = lock_status(conn, index=cluster.state_index)
    if info is None:
        click.echo("The state lock is free.")
        return
    click.echo(
        f"Held by {info.holder} for {info.operation} since {info.acquired_at}, "
        f"expires {info.expires_at} (lock ID {info.lock_id})."
    )


@lock.command("force-unlock")
@click.argument("lock_id")
@cluster_options
def force_unlock_command(lock_id: str, *, cluster: ClusterOptions) -> None:
    """Remove the lock LOCK_ID (shown by `osml lock status`), whoever holds it."""
    with connected(cluster) as conn:
        info = force_unlock(conn, lock_id, index=cluster.state_index)
    click.echo(f"Removed lock {info.lock_id} held by {info.holder} for {info.operation}.")


@main.group()
def state() -> None:
    """Read or change what osml remembers about managed resources."""


@state.command("list")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a header and one tab-separated line per resource; json: one array.",
)
@cluster_options
def state_list(*, output_format: str, cluster: ClusterOptions) -> None:
    """One line per managed resource: KIND/NAME, status, live ID and last update."""
    with connected(cluster) as conn:
        records = read_state(conn, index=cluster.state_index).records
    ordered = [records[key] for key in sorted(records, key=lambda k: k.sort_key)]
    if output_format == "json":
        rows = [
            {"key": str(r.key), "status": r.status, "live_id": r.id, "updated_at": r.updated_at}
            for r in ordered
        ]
        click.echo(scrub(json.dumps(rows, indent=2)))
        return
    click.echo("RESOURCE\tSTATUS\tLIVE ID\tUPDATED")
    for record in ordered:
        click.echo(scrub(f"{record.key}\t{record.status}\t{record.id or '-'}\t{record.updated_at}"))


@state.command("show")
@click.argument("resource")
@cluster_options
def state_show(resource: str, *, cluster: ClusterOptions) -> None:
    """The whole record of RESOURCE (KIND/NAME) as JSON; credentials only as fingerprints."""
    key = _key(resource)
    with connected(cluster) as conn:
        record = read_state(conn, index=cluster.state_index).records.get(key)
    if record is None:
        raise PlanError(f"{key} is not in the state")
    document = {
        "key": str(record.key),
        "status": record.status,
        "live_id": record.id,
        "spec_hash": record.spec_hash,
        "updated_at": record.updated_at,
        "fingerprints": dict(record.fingerprints),
        "applied": record.applied,
    }
    click.echo(scrub(json.dumps(document, indent=2, sort_keys=True)))


@state.command("rm")
@click.argument("resource")
@cluster_options
def state_rm(resource: str, *, cluster: ClusterOptions) -> None:
    """Forget RESOURCE (KIND/NAME) without deleting it from the cluster."""
    key = _key(resource)
    with connected(cluster) as conn:
        record = read_state(conn, index=cluster.state_index).records.get(key)
        if record is None:
            raise PlanError(f"{key} is not in the state")
        delete_record(conn, record, index=cluster.state_index)
    click.echo(f"Forgot {key} (live ID {record.id or '-'}); the resource itself is untouched.")


@main.command("import")
@click.argument("resource")
@click.argument("live_id")
@cluster_options
def import_command(resource: str, live_id: str, *, cluster: ClusterOptions) -> None:
    """Manage the existing live resource LIVE_ID as RESOURCE (KIND/NAME).

    The next plan compares the resource with its manifest and updates what differs;
    credentials, which cannot be read back, are sent again.
    """
    key = _key(resource)
    if key.kind.is_setting:
        raise PlanError(f"{key}: settings kinds need no import; they are matched by key")
    with connected(cluster) as conn:
        _fetch(MlCalls(conn, scrub=scrub), key, live_id)
        current = read_state(conn, index=cluster.state_index).records.get(key)
        record = StateRecord(key=key, status="managed", id=live_id, spec_hash="", applied={})
        write_record(conn, record, expected=current, index=cluster.state_index)
    click.echo(f"Imported {key} as live ID {live_id}. Run `osml plan` to see what differs.")


def _fetch(calls: MlCalls, key: ResourceKey, live_id: str) -> None:
    """Prove the live resource exists (ClusterNotFoundError otherwise)."""
    subject = str(key)
    if key.kind is Kind.CONNECTOR:
        calls.get_connector(live_id, subject=subject)
    elif key.kind is Kind.MODEL_GROUP:
        calls.get_model_group(live_id, subject=subject)
    else:
        calls.get_model(live_id, subject=subject)
