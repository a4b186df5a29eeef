"""`osml watch`: keep a cluster converged, as a long-running service.

Maps the options to one `watching.Watcher` and runs it on the main thread. This module
owns what is process-wide: the JSON event lines on stdout, osml's Python loggers routed
into them, the SIGTERM / SIGINT handlers (the first signal stops after the running
changes finish, a second one acts as usual and ends the process at once) and SIGUSR1,
which pauses the watcher or resumes it. The project file's policy judges every cycle's
plan (`--policy-file`, as for `osml plan`): a change with an error finding is held back
unless `--allow-policy` names its rule.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from reconciler.applying.executing import Settings
from reconciler.cli.base import main
from reconciler.cli.environments import env_options, environment_folder, for_environment, selected
from reconciler.cli.options import ClusterOptions, cluster_options, open_cluster
from reconciler.cli.params import DURATION_HELP, Duration, FlagFile, InputPath, KeyFile
from reconciler.cli.policy import allow_policy_option, policy_file_option
from reconciler.policy import find_project_file, load_policy
from reconciler.watching import CycleSettings, Mode, Watcher, WatchOptions
from reconciler.watching.logs import EventLog, JsonLogHandler
from reconciler.watching.serving import parse_address

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.4 has no generic ParamType
    _ParamType = click.ParamType


class Address(_ParamType):
    """`HOST:PORT` to listen on, or `off`."""

    name = "host:port"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        if value is None or str(value).lower() == "off":
            return None
        try:
            return parse_address(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@main.command()
@click.argument("paths", nargs=-1, type=InputPath())
@click.option(
    "--interval",
    type=Duration(),
    default="60s",
    show_default=True,
    help=f"How often to check for drift ({DURATION_HELP}).",
)
@click.option(
    "--full-read-every",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Read the whole cluster every N cycles; in between only what changed (docs/watch.md).",
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default="heal",
    show_default=True,
    help="heal: plan and apply; report: plan and log only.",
)
@click.option(
    "--listen",
    type=Address(),
    default="127.0.0.1:9464",
    show_default=True,
    help="Where to serve /healthz, /readyz and /metrics; `off` for nowhere.",
)
@click.option(
    "--debounce",
    type=Duration(),
    default="1s",
    show_default=True,
    help=f"Gather a burst of manifest saves into one cycle ({DURATION_HELP}).",
)
@click.option(
    "--lease",
    type=Duration(),
    default="60s",
    show_default=True,
    help=f"State-lock lease: how long a crashed watcher blocks the others ({DURATION_HELP}).",
)
@click.option(
    "--max-backoff",
    type=Duration(),
    default="15m",
    show_default=True,
    help=f"Longest wait after repeated failures (per cycle and per resource) ({DURATION_HELP}).",
)
@click.option(
    "--watch-dir",
    "watch_dirs",
    multiple=True,
    type=InputPath(file_okay=False),
    help="Also watch this folder (e.g. a git-sync root); repeatable.",
)
@click.option(
    "--watch-files/--no-watch-files",
    default=True,
    show_default=True,
    help="Run a cycle when the manifests change, not only on the timer.",
)
@click.option(
    "--pause-file",
    type=FlagFile(),
    help="While this file exists, only plan and log: change nothing, take no lock.",
)
@click.option("--prune", is_flag=True, help="Delete managed resources that left the manifests.")
@click.option(
    "--allow-prune-all",
    is_flag=True,
    help="With --prune: allow deleting every resource osml manages (refused otherwise).",
)
@click.option(
    "--allow-breaking-consumers",
    is_flag=True,
    help="Allow deleting or re-IDing resources that pipelines, agents or indices osml does "
    "not manage still use (refused otherwise: the cycle fails and says which).",
)
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--deploy-timeout",
    type=Duration(),
    default="5m",
    show_default=True,
    help=f"How long to wait for each deploy or undeploy ({DURATION_HELP}).",
)
@click.option("--key-file", type=KeyFile())
@policy_file_option
@allow_policy_option
@env_options()
@cluster_options
def watch(
    paths: tuple[Path, ...],
    *,
    interval: float,
    full_read_every: int,
    mode: str,
    listen: tuple[str, int] | None,
    debounce: float,
    lease: float,
    max_backoff: float,
    watch_dirs: tuple[Path, ...],
    watch_files: bool,
    pause_file: Path | None,
    prune: bool,
    allow_prune_all: bool,
    allow_breaking_consumers: bool,
    parallelism: int,
    deploy_timeout: float,
    key_file: Path | None,
    policy_file: Path | None,
    allow_policy: frozenset[str],
    env: str | None,
    env_dir: Path | None,
    cluster: ClusterOptions,
) -> None:  # fmt: skip
    """Keep the cluster converged with the manifests in PATHS (default manifests/).

    Runs a cycle at start, when the manifests change and every --interval; logs one
    JSON object per line on stdout. In heal mode a cycle that finds drift takes the
    state lock and gives it back, so `osml apply --lock-timeout` can run between cycles. SIGUSR1
    pauses (or resumes) the watcher; stop with SIGTERM or Ctrl-C.
    """
    environment = selected(paths or (Path("manifests"),), env=env, env_dir=env_dir)
    cluster = for_environment(cluster, environment)
    policy_file = policy_file or find_project_file(paths or (Path("manifests"),))
    load_policy(policy_file)  # a broken project file stops the watcher before it starts
    options = WatchOptions(
        cycle=CycleSettings(
            paths=paths or (Path("manifests"),),
            environment=environment.file if environment is not None else None,
            mode=Mode(mode),
            prune=prune,
            allow_prune_all=allow_prune_all,
            allow_breaking_consumers=allow_breaking_consumers,
            parallelism=parallelism,
            apply=Settings(deploy_timeout=deploy_timeout, state_index=cluster.state_index),
            key_file=key_file,
            full_read_every=full_read_every,
            policy_file=policy_file,
            allow_policy=allow_policy,
        ),
        interval=interval,
        debounce=debounce,
        listen=listen,
        lease_seconds=lease,
        max_backoff=max_backoff,
        watch_files=watch_files,
        watch_dirs=(*watch_dirs, *environment_folder(environment)),
        pause_file=pause_file,
    )
    with open_cluster(cluster) as conn:
        watcher = Watcher(conn, options, sink=click.echo, stop=threading.Event())
        for warning in conn.warnings:
            watcher.log.event("connection_warning", level="warning", message=warning)
        with _python_logs(watcher.log), _signals(watcher):
            watcher.start()
            try:
                watcher.run()
            finally:
                watcher.close()


@contextlib.contextmanager
def _python_logs(log: EventLog) -> Iterator[None]:
    """Route osml's own loggers (lock renewal, connection) into the JSON lines, and
    opensearch-py's warnings too, so that stdout stays one JSON object per line."""
    routes = {"reconciler": logging.INFO, "opensearch": logging.WARNING}
    previous = {}
    for name, level in routes.items():
        logger = logging.getLogger(name)
        handler = JsonLogHandler(log, level)
        previous[name] = (logger.level, logger.propagate, handler)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False  # not also to the root logger's plain-text lines
    try:
        yield
    finally:
        for name, (level, propagate, handler) in previous.items():
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


@contextlib.contextmanager
def _signals(watcher: Watcher) -> Iterator[None]:
    """SIGTERM and SIGINT ask for a clean stop once, then the handlers are restored;
    SIGUSR1 toggles the pause."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set on the main thread (tests run elsewhere)
        return
    wanted = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.getsignal(number) for number in wanted}

    def stop(number: int, frame: FrameType | None) -> None:
        watcher.log.event("stop_requested", signal=signal.Signals(number).name)
        for each in wanted:
            signal.signal(each, previous[each])
        watcher.request_stop()

    def pause(number: int, frame: FrameType | None) -> None:
        watcher.toggle_pause()

    previous[signal.SIGUSR1] = signal.getsignal(signal.SIGUSR1)
    for number in wanted:
        signal.signal(number, stop)
    signal.signal(signal.SIGUSR1, pause)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
