"""Short-lived AWS keys (`fromAwsRole`) against the sandbox and a real local STS (moto).

A connector signs its predicts with keys osml got from STS AssumeRole at apply time; the
loopback model server is the provider and records what arrived, so the tests read the
access key and session token the sandbox stored off the SigV4 `Authorization` header and
`X-Amz-Security-Token`. Keys become due when their lease in the state record says so: the
tests age that lease in the state index (as time would), never the clock of osml.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cluster.state import read_state, record_id
from reconciler.resources import Kind, ResourceKey
from reconciler.sandbox.testing import client_for
from tests.integration import support
from tests.support.aws import CALLER_SECRET, ROLE_ARN, moto_sts
from tests.support.model_server import ModelServer, Recorded

__all__ = ["moto_sts"]  # the fixture, used by name

CONNECTOR = ResourceKey(Kind.CONNECTOR, "bedrock")
STATE = "osml-state"


def manifests(
    directory: Path,
    remote: str,
    *,
    duration: str = "15m",
    credential: dict[str, Any] | None = None,
) -> Path:
    role = {"role_arn": ROLE_ARN, "session_name": "osml-test", "duration": duration}
    bedrock = {
        "apiVersion": "osml/v1",
        "kind": "Connector",
        "metadata": {"name": "bedrock"},
        "spec": {
            "name": "Bedrock embeddings",
            "version": 1,
            "protocol": "aws_sigv4",
            "parameters": {"region": "us-east-1", "service_name": "bedrock"},
            "credential": credential
            or {
                key: {"fromAwsRole": role} for key in ("access_key", "secret_key", "session_token")
            },
            "actions": [
                {
                    "action_type": "predict",
                    "method": "POST",
                    "url": f"{remote}/v1/embeddings",
                    "headers": {"content-type": "application/json"},
                    "request_body": '{"input": ${parameters.input}, "model": "titan"}',
                }
            ],
        },
    }
    embed = support.model("embed", connector_name="bedrock", group_name="team")
    return support.write(
        directory, [*support.loopback_access(), support.group("team"), bedrock, embed]
    )


def signed_keys(request: Recorded) -> tuple[str, str]:
    """(access key, session token) of one signed request the provider received."""
    authorization = request.headers.get("authorization", "")
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential="), authorization
    access_key = authorization.split("Credential=", 1)[1].split("/", 1)[0]
    return access_key, request.headers.get("x-amz-security-token", "")


def predict(client: Any, model_id: str) -> dict[str, Any]:
    body = {"parameters": {"input": ["hello"]}}
    answer: dict[str, Any] = client.transport.perform_request(
        "POST", f"/_plugins/_ml/models/{model_id}/_predict", body=body
    )
    return answer


def age_lease(
    url: str, *, left: dt.timedelta, lifetime: dt.timedelta = dt.timedelta(minutes=15)
) -> None:
    """Make the connector's keys look `left` from expiry, as time passing would."""
    with support.open_connection(url) as conn:
        doc_id = record_id(CONNECTOR)
        source = conn.client.get(index=STATE, id=doc_id)["_source"]
        expires = dt.datetime.now(dt.UTC) + left
        lease = source["leases"]["credential"]
        lease["expires"] = expires.isoformat(timespec="seconds")
        lease["issued"] = (expires - lifetime).isoformat(timespec="seconds")
        conn.client.index(index=STATE, id=doc_id, body=source, params={"refresh": "true"})


def state_documents(url: str) -> str:
    with support.open_connection(url) as conn:
        hits = conn.client.search(index=STATE, body={"size": 100})["hits"]["hits"]
    return json.dumps(hits)


def osml(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_each_rotation_gives_the_connector_fresh_keys_from_sts(
    sandbox_factory: Any, moto_sts: str, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    client = client_for(sandbox)
    with ModelServer() as remote:
        paths = manifests(tmp_path / "m", remote.url)
        code, out = osml("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        record = read_state(support.open_connection(sandbox.url), index=STATE).records[CONNECTOR]
        model_id = (
            read_state(support.open_connection(sandbox.url), index=STATE)
            .records[ResourceKey(Kind.MODEL, "embed")]
            .id
        )
        assert model_id is not None
        lease = record.leases["credential"]
        assert lease["source"] == f"fromAwsRole {ROLE_ARN}, session osml-test, 15m"
        lifetime = dt.datetime.fromisoformat(lease["expires"]) - dt.datetime.fromisoformat(
            lease["issued"]
        )
        assert abs(lifetime.total_seconds() - 900) < 5  # moto honours DurationSeconds
        assert set(record.fingerprints) == {
            "credential.access_key",
            "credential.secret_key",
            "credential.session_token",
        }

        predict(client, model_id)
        first_key, first_token = signed_keys(remote.requests[-1])
        assert first_key.startswith("ASIA") and first_token  # temporary keys, from STS

        # Not due: the plan sends nothing and mints nothing.
        code, out = osml("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 0 and "No changes" in out, out

        # Less than a third of the lifetime left: due, shown as a sensitive change.
        age_lease(sandbox.url, left=dt.timedelta(minutes=4))
        code, out = osml("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 2, out
        assert (
            "credentials rotate: credential.access_key, credential.secret_key, credential.session_token"
            in out
        )
        assert "due, they expire in 3m" in out or "due, they expire in 4m" in out
        assert "(sensitive, changed)" in out
        code, out = osml("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        predict(client, model_id)
        second_key, second_token = signed_keys(remote.requests[-1])
        assert second_key.startswith("ASIA") and second_key != first_key
        assert second_token and second_token != first_token

        # Expired: the plan says so, and the next apply gives new keys again.
        age_lease(sandbox.url, left=-dt.timedelta(minutes=2))
        code, out = osml("plan", str(paths), "--cluster", sandbox.url)
        assert "expired 2m ago" in out, out
        code, out = osml("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        predict(client, model_id)
        third_key, third_token = signed_keys(remote.requests[-1])
        assert third_key not in (first_key, second_key) and third_token != second_token

        # Never stored anywhere but the connector.
        stored = state_documents(sandbox.url)
        for value in (first_token, second_token, third_token, CALLER_SECRET):
            assert value not in stored and value not in out
    client.close()


def test_a_role_sts_refuses_stops_the_apply_before_any_change(
    sandbox_factory: Any, moto_sts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    with ModelServer() as remote:
        paths = manifests(tmp_path / "m", remote.url)
        # No endpoint that answers: STS cannot be reached, the keys cannot be minted.
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        code, out = osml("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
    assert code == 1, out
    assert "the plan cannot be applied (nothing was changed)" in out
    assert f"Connector/bedrock: credential.access_key: fromAwsRole {ROLE_ARN}" in out
    assert "STS AssumeRole failed" in out
    assert CALLER_SECRET not in out


def test_validate_checks_the_keys_a_source_fills(tmp_path: Path) -> None:
    paths = manifests(tmp_path / "m", "http://127.0.0.1:1")
    file = paths / "all.yaml"
    docs = list(yaml.safe_load_all(file.read_text("utf-8")))
    credential = docs[3]["spec"]["credential"]
    del credential["session_token"]
    credential["secret_key"] = {"fromAwsRole": {"role_arn": ROLE_ARN, "duration": "1h"}}
    credential["region"] = {"fromAwsRole": {"role_arn": ROLE_ARN}}
    file.write_text(yaml.safe_dump_all(docs, sort_keys=False), "utf-8")
    code, out = osml("validate", str(paths))
    assert code == 1, out
    assert "credential.region cannot come from it" in out
    assert (
        "credential.session_token is missing: fromAwsRole fills access_key, secret_key and session_token together"
        in out
    )
    assert (
        "credential.secret_key must come from the same fromAwsRole as credential.access_key" in out
    )
    assert f"{file}:" in out


def test_a_watch_renews_the_keys_of_a_deployed_model_with_no_failed_predict(
    sandbox_factory: Any, moto_sts: str, tmp_path: Path
) -> None:
    from reconciler.applying.executing import Settings
    from reconciler.cluster.connecting import ConnectionSettings, connect
    from reconciler.watching import CycleSettings, Mode, Watcher, WatchOptions

    sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    client = client_for(sandbox)
    with ModelServer() as remote:
        paths = manifests(tmp_path / "m", remote.url)
        conn = connect(ConnectionSettings(url=sandbox.url, timeout=10))
        cycle = CycleSettings(
            paths=(paths,), mode=Mode.HEAL, env={}, apply=Settings(deploy_timeout=5.0)
        )
        options = WatchOptions(
            cycle=cycle,
            interval=0.2,
            listen=("127.0.0.1", 0),
            watch_files=False,
            debounce=0.1,
            error_backoff=0.1,
        )
        lines: list[str] = []
        watcher = Watcher(conn, options, sink=lines.append, stop=threading.Event()).start()
        thread = threading.Thread(target=watcher.run, name="test-watch", daemon=True)
        thread.start()
        failures: list[str] = []
        answers = 0
        stop = threading.Event()
        try:
            support_wait(
                lambda: (
                    _model_id(sandbox.url) is not None and _deployed(client, _model_id(sandbox.url))
                )
            )
            model_id = _model_id(sandbox.url)
            assert model_id is not None
            predict(client, model_id)
            first_key, _ = signed_keys(remote.requests[-1])

            def poll() -> None:
                nonlocal answers
                while not stop.is_set():
                    try:
                        predict(client, model_id)
                        answers += 1
                    except Exception as exc:
                        failures.append(str(exc))

            poller = threading.Thread(target=poll, name="test-poller", daemon=True)
            poller.start()
            connector_before = _connector_id(sandbox.url)
            age_lease(sandbox.url, left=dt.timedelta(minutes=3))
            support_wait(lambda: _connector_id(sandbox.url) != connector_before, timeout=20)
            support_wait(lambda: signed_keys(remote.requests[-1])[0] != first_key, timeout=10)
            done = answers
            support_wait(lambda: answers > done + 5, timeout=10)
        finally:
            stop.set()
            watcher.request_stop()
            thread.join(timeout=15)
            watcher.close()
            conn.close()
        assert failures == []
        events = [json.loads(line) for line in lines]
        swapped = [
            e
            for e in events
            if e.get("event") == "change_finished"
            and e.get("resource") == "Connector/bedrock"
            and e.get("action") == "update"
        ]
        assert swapped and swapped[-1]["outcome"] == "done", events
        log = "\n".join(lines)
        seen = {signed_keys(r)[1] for r in remote.requests}
        for token in seen:
            assert token not in log
        assert CALLER_SECRET not in log
    client.close()


def _model_id(url: str) -> str | None:
    with support.open_connection(url) as conn:
        record = read_state(conn, index=STATE).records.get(ResourceKey(Kind.MODEL, "embed"))
    return record.id if record is not None and record.status == "managed" else None


def _connector_id(url: str) -> str | None:
    with support.open_connection(url) as conn:
        record = read_state(conn, index=STATE).records.get(CONNECTOR)
    return record.id if record is not None else None


def _deployed(client: Any, model_id: str | None) -> bool:
    if model_id is None:
        return False
    answer = client.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}")
    return bool(answer.get("model_state") == "DEPLOYED")


def support_wait(check: Any, *, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {check}")
        time.sleep(0.05)


def test_a_watch_cycle_sts_refuses_is_an_apply_refusal_retried_not_a_crash(
    sandbox_factory: Any, moto_sts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.applying.executing import Settings
    from reconciler.cluster.connecting import ConnectionSettings, connect
    from reconciler.watching import CycleSettings, Mode, Watcher, WatchOptions
    from reconciler.watching.cycle import Status

    sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    with ModelServer() as remote:
        paths = manifests(tmp_path / "m", remote.url)
        code, out = osml("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        connector_before = _connector_id(sandbox.url)
        age_lease(sandbox.url, left=dt.timedelta(minutes=3))
        conn = connect(ConnectionSettings(url=sandbox.url, timeout=10))
        cycle = CycleSettings(
            paths=(paths,), mode=Mode.HEAL, env={}, apply=Settings(deploy_timeout=5.0)
        )
        options = WatchOptions(cycle=cycle, listen=None, watch_files=False)
        lines: list[str] = []
        watcher = Watcher(conn, options, sink=lines.append, stop=threading.Event())
        try:
            # STS cannot be reached: the keys that are due cannot be minted.
            monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
            monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
            refused = watcher.loop.cycle("start")
            # STS answers again: the next cycle renews the keys.
            monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_sts)
            renewed = watcher.loop.cycle("timer")
        finally:
            watcher.close()
            conn.close()
    events = [json.loads(line) for line in lines]
    names = [e["event"] for e in events]
    assert "cycle_crashed" not in names, events
    assert refused.status is Status.ERROR  # retried with the error backoff
    (refusal,) = [e for e in events if e["event"] == "apply_refused"]
    assert refusal["level"] == "error"
    assert "nothing was changed" in refusal["message"]
    assert "STS AssumeRole failed" in refusal["message"]
    assert renewed.status is Status.CONVERGED, events
    assert _connector_id(sandbox.url) != connector_before
    assert CALLER_SECRET not in "\n".join(lines)


def test_profile_keys_go_with_their_session_token_when_they_have_one(
    sandbox_factory: Any, moto_sts: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory("3.x")
    chain = {"fromAwsProfile": {}}
    keys_only = {"access_key": chain, "secret_key": chain}
    with_token = {**keys_only, "session_token": chain}
    # Long-term keys (the fixture's environment has no session token): no session_token.
    paths = manifests(tmp_path / "long", "http://127.0.0.1:1", credential=with_token)
    code, out = osml("plan", str(paths), "--cluster", sandbox.url)
    assert code == 1, out
    assert "gave no session_token: its keys are long-term; drop credential.session_token" in out
    paths = manifests(tmp_path / "long-ok", "http://127.0.0.1:1", credential=keys_only)
    code, out = osml("plan", str(paths), "--cluster", sandbox.url)
    assert code == 0, out
    assert "credential.access_key: (sensitive)" in out
    # Temporary keys (SSO, a role the caller assumed) sign nothing without their token.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "chain-session-token-for-tests")
    paths = manifests(tmp_path / "temporary", "http://127.0.0.1:1", credential=keys_only)
    code, out = osml("plan", str(paths), "--cluster", sandbox.url)
    assert code == 1, out
    assert (
        "Connector/bedrock: spec.credential: credential.session_token is missing: "
        "fromAwsProfile (the default chain) gave temporary keys" in out
    )
    assert "chain-session-token-for-tests" not in out and CALLER_SECRET not in out
    paths = manifests(tmp_path / "temporary-ok", "http://127.0.0.1:1", credential=with_token)
    code, out = osml("plan", str(paths), "--cluster", sandbox.url)
    assert code == 0, out
    assert "credential.session_token: (sensitive)" in out
