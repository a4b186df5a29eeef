"""`osml lock`, `osml state` and `osml import`: inspect and repair what osml remembers.

`lock status` shows who holds the state lock; `lock force-unlock ID` removes a lock left
by a crashed run, asking first when the lock is still being renewed. `state
list|show|rm` read and forget state records without touching the resources themselves;
`import KIND/NAME ID` puts one existing live resource under management, so the next plan
compares it instead of creating a new one; an ID another resource manages is refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

import click

from reconciler.cli.base import main
from reconciler.cli.environments import env_cluster
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.locking import force_unlock, is_expired, lock_status
from reconciler.cluster.snapshots import LockInfo, StateRecord
from reconciler.cluster.state import delete_record, read_state, utc_now, write_record
from reconciler.errors import ClusterNotFoundError, LockError, PlanError
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
@env_cluster
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
@click.option("--force", is_flag=True, help="Remove the lock even if its lease is still live.")
@cluster_options
@env_cluster
def force_unlock_command(lock_id: str, *, force: bool, cluster: ClusterOptions) -> None:
    """Remove the lock LOCK_ID (shown by `osml lock status`), whoever holds it.

    A lock renewed within its lease probably belongs to a run that is still going (a
    watcher, an apply): removing it asks first, and without a terminal needs --force.
    """
    with connected(cluster) as conn:
        held = lock_status(conn, index=cluster.state_index)
        if held is not None and held.lock_id == lock_id and not force:
            _confirm_live(held)
        info = force_unlock(conn, lock_id, index=cluster.state_index)
    click.echo(f"Removed lock {info.lock_id} held by {info.holder} for {info.operation}.")


def _confirm_live(info: LockInfo) -> None:
    """Ask before removing a live lock; LockError when there is no terminal to ask."""
    if is_expired(info, now=utc_now()):
        return  # its holder stopped renewing it: gone, as force-unlock expects
    live = (
        f"the lock {info.lock_id} of {info.holder} ({info.operation}) is live: it was renewed "
        f"less than a lease ago and expires {info.expires_at}, so that run probably still "
        "runs, and removing the lock lets another run change the cluster beside it"
    )
    if not _on_terminal():
        raise LockError(f"{live}; refusing without --force (there is no terminal to ask)")
    click.echo(live[0].upper() + live[1:] + ".", err=True)
    if not click.confirm("Remove it anyway?", default=False, err=True):
        raise click.Abort


def _on_terminal() -> bool:
    return sys.stdin.isatty()


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
@env_cluster
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
@env_cluster
def state_show(resource: str, *, cluster: ClusterOptions) -> None:
    """The whole record of RESOURCE (KIND/NAME) as JSON; credentials only as fingerprints.

    A probed model's record also shows its last probe: time, outcome, failures in a row
    and why it failed.
    """
    key = _key(resource)
    with connected(cluster) as conn:
        record = read_state(conn, index=cluster.state_index).records.get(key)
    if record is None:
        raise PlanError(f"{key} is not in the state")
    document: dict[str, object] = {
        "key": str(record.key),
        "status": record.status,
        "live_id": record.id,
        "spec_hash": record.spec_hash,
        "updated_at": record.updated_at,
        "fingerprints": dict(record.fingerprints),
        "applied": record.applied,
    }
    if record.probe is not None:
        # When and how the last probe ended, and the (scrubbed) reason; never its payload.
        document["probe"] = record.probe.to_dict()
    click.echo(scrub(json.dumps(document, indent=2, sort_keys=True)))


@state.command("rm")
@click.argument("resource")
@cluster_options
@env_cluster
def state_rm(resource: str, *, cluster: ClusterOptions) -> None:
    """Forget RESOURCE (KIND/NAME) without deleting it from the cluster."""
    key = _key(resource)
    with connected(cluster) as conn:
        record = read_state(conn, index=cluster.state_index).records.get(key)
        if record is None:
            raise PlanError(f"{key} is not in the state")
        delete_record(conn, record, index=cluster.state_index)
    click.echo(f"Forgot {key} (live ID {record.id or '-'}); the resource itself is untouched.")


class _ImportCommand(click.Command):
    """`import`, whose LIVE_ID may start with `-`: ML Commons makes IDs of random URL-safe
    base64 (`-fmEaiGeDvZ4cqwu6SR0`), which the parser would read as short options. A word
    that starts with one `-` and is none of the command's options is taken as an argument,
    as if written after `--`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            known = {name for param in self.get_params(ctx) for name in param.opts}
            known.update(n for param in self.get_params(ctx) for n in param.secondary_opts)
            ids = [a for a in args if _looks_like_an_id(a, known)]
            if ids:
                args = [a for a in args if a not in ids] + ["--", *ids]
        return super().parse_args(ctx, args)


def _looks_like_an_id(arg: str, options: set[str]) -> bool:
    # Longer than a short option, and no option of this command: it has no cluster of
    # short flags to write and none that takes a value glued to it.
    return len(arg) > 2 and arg.startswith("-") and not arg.startswith("--") and arg not in options


@main.command("import", cls=_ImportCommand)
@click.argument("resource")
@click.argument("live_id")
@cluster_options
@env_cluster
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
        records = read_state(conn, index=cluster.state_index).records
        _refuse_taken(records, key, live_id)
        current = records.get(key)
        record = StateRecord(key=key, status="managed", id=live_id, spec_hash="", applied={})
        write_record(conn, record, expected=current, index=cluster.state_index)
    click.echo(f"Imported {key} as live ID {live_id}. Run `osml plan` to see what differs.")


def _refuse_taken(
    records: Mapping[ResourceKey, StateRecord], key: ResourceKey, live_id: str
) -> None:
    """PlanError when another record already points at `live_id`: two records for one
    live resource would make the next plan fail on a rename it cannot explain."""
    owners = sorted(str(k) for k, r in records.items() if r.id == live_id and k != key)
    if owners:
        raise PlanError(
            f"{key}: live ID {live_id} is already managed as {', '.join(owners)}; "
            f"run `osml state rm {owners[0]}` first to move it"
        )


def _fetch(calls: MlCalls, key: ResourceKey, live_id: str) -> None:
    """Prove the live resource exists (ClusterNotFoundError otherwise)."""
    subject = f"{key} (live ID {live_id})"
    if key.kind is Kind.CONNECTOR:
        calls.get_connector(live_id, subject=subject)
    elif key.kind is Kind.MODEL_GROUP:
        calls.get_model_group(live_id, subject=subject)
    elif key.kind.is_pipeline:
        if live_id != key.name:
            raise PlanError(
                f"{key}: a pipeline's manifest name is its ID; import it as "
                f"{key.kind.value}/{live_id}, or name the manifest so"
            )
        if live_id not in calls.get_pipelines(key.kind):
            what = "ingest" if key.kind is Kind.INGEST_PIPELINE else "search"
            missing = f"{subject}: read failed (404): no {what} pipeline {live_id}"
            raise ClusterNotFoundError(missing)
    elif key.kind is Kind.AGENT:
        calls.get_agent(live_id, subject=subject)
    else:
        calls.get_model(live_id, subject=subject)
