"""No secret value ever leaves osml: every command, every output, every stored document.

Each test runs real commands (click's runner, or a subprocess for `osml watch`) against a
sandbox with security on, reached through `Gateway`, a small HTTP proxy that plays an API
gateway: it wants a bearer token, forwards to the sandbox and records what passed.
The known values are fresh per test: three connector credentials (fromEnv, fromFile,
encrypted), an inline connector's credential, the cluster password, the bearer token,
the secret key, the plan key and their rotated successors. For each command the test
searches stdout, stderr, the log records at DEBUG, plan files and every document the
cluster stores (the state index included) for each value and for the Basic-auth header
built from the password: zero hits. `osml secrets decrypt`, asked to print a plaintext,
is the one exception.

Servers that echo a request in an error are simulated honestly twice: the gateway can
answer chosen routes with a 400 whose reason quotes the request body and headers (the
sandbox itself never does, as ML Commons does not), and a remote model service answers a
probe's predict with "Incorrect API key provided: <key>", which the sandbox, like ML
Commons, passes on as `Error from remote service: ...`.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import http.client
import json
import logging
import os
import re
import secrets as random_tokens
import signal
import subprocess
import sys
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.cluster.locking import acquire_lock
from reconciler.errors import ClusterError
from reconciler.sandbox.server import Sandbox
from reconciler.secrets import Secret, scrub
from reconciler.secrets.encrypting import SecretKey, decrypt, encrypt
from tests.integration.support import connector, group, loopback_access, model
from tests.support import brownfield
from tests.support.model_server import ModelServer

ROOT = Path(__file__).resolve().parents[2]
USER = "osml-ci"
GATEWAY_HEADER = "Proxy-Authorization"
"""The gateway wants a bearer token here; `Authorization` carries the cluster's Basic auth."""


# -- the gateway ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as it reached the gateway."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Gateway:
    """A forwarding HTTP proxy in front of a cluster: checks a header, records, echoes.

    `require=(name, value)`: requests without that header are answered 401 and the header
    is not forwarded (an API gateway in front of OpenSearch, bearer or API-key auth).
    `echo`: `METHOD /path/glob` patterns answered 400 with an OpenSearch error envelope whose
    reason quotes the request body and headers, as a careless server or gateway would
    (`Authorization` only when `echo_authorization` is set).
    """

    def __init__(
        self, upstream: str, *, require: tuple[str, str] | None = None, echo: Sequence[str] = ()
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.require = require
        self.echo = list(echo)
        self.echo_authorization = False
        """Quote the `Authorization` header too (off by default)."""
        self.seen: list[Seen] = []
        self.echoed: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Gateway:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        self.seen.append(seen)
        headers = {k: v for k, v in seen.headers.items() if k.lower() not in _HOP_BY_HOP}
        if self.require is not None:
            name, value = self.require
            if headers.pop(_find(headers, name), None) != value:
                return 401, {"Content-Type": "text/plain"}, b"Unauthorized"
        if any(fnmatch.fnmatchcase(f"{seen.method} {seen.path}", p) for p in self.echo):
            return self._echo(seen)
        return self._forward(seen, headers)

    def _echo(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        quoted = {
            k: v
            for k, v in seen.headers.items()
            if self.echo_authorization or k.lower() != "authorization"
        }
        reason = (
            f"Failed to parse request [{seen.body.decode('utf-8', 'replace')}] "
            f"with headers {json.dumps(quoted)}"
        )
        self.echoed.append(reason)
        error = {"type": "illegal_argument_exception", "reason": reason}
        body = json.dumps({"error": {"root_cause": [error], **error}, "status": 400})
        return 400, {"Content-Type": "application/json"}, body.encode()

    def _forward(self, seen: Seen, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        upstream = http.client.HTTPConnection(
            self.upstream.hostname or "", self.upstream.port, timeout=30
        )
        try:
            upstream.request(seen.method, seen.path, body=seen.body or None, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
            kept = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP}
            return answer.status, kept, body
        finally:
            upstream.close()


_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})


def _find(headers: dict[str, str], name: str) -> str:
    return next((k for k in headers if k.lower() == name.lower()), name)


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            status, headers, payload = gateway.answer(seen)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    return Handler


# -- the known values and where they are searched ---------------------------------------


ESCAPED = '"q\\ü'
"""Characters a JSON body escapes: a value echoed inside one must be scrubbed all the same."""
ESCAPED_NAMES = ("file", "encrypted", "inline")
NAMES = ("env", "file", "encrypted", "inline", "password", "token", "rotated-env", "rotated-file")


@dataclasses.dataclass(frozen=True)
class Known:
    """Fresh secret values for one test, so no earlier test can have taught scrub() them."""

    key: SecretKey = dataclasses.field(default_factory=SecretKey.generate)
    plan_key: SecretKey = dataclasses.field(default_factory=SecretKey.generate)
    tokens: dict[str, str] = dataclasses.field(
        default_factory=lambda: {
            name: f"{name}{ESCAPED if name in ESCAPED_NAMES else ''}-{random_tokens.token_hex(8)}"
            for name in NAMES
        }
    )

    def __getitem__(self, name: str) -> str:
        return self.tokens[name]

    def values(self) -> dict[str, str]:
        """Every value that must never appear, by name, also in its JSON-escaped forms."""
        basic = base64.b64encode(f"{USER}:{self['password']}".encode()).decode()
        escaped = {
            f"{name} (JSON, ascii={ascii_only})": json.dumps(value, ensure_ascii=ascii_only)[1:-1]
            for name, value in self.tokens.items()
            for ascii_only in (False, True)
        }
        keys = {"secret key": self.key.to_text(), "plan key": self.plan_key.to_text()}
        return {**escaped, **self.tokens, **keys, "basic auth": basic}

    def leaks(self, text: str) -> list[str]:
        """The names of the values found in `text` or in any JSON document or line of it."""
        texts = [text, *json_strings(text)]
        return [name for name, value in self.values().items() if any(value in t for t in texts)]

    def context(self, text: str) -> str:
        """Each leaked value's name and the text around its first hit, for a failure."""
        text = "\n".join([text, *json_strings(text)])
        hits = [(name, text.find(value)) for name, value in self.values().items()]
        return "\n".join(
            f"{name}: ...{text[max(0, at - 300) : at + 100]}..." for name, at in hits if at >= 0
        )


def json_strings(text: str) -> list[str]:
    """Every string inside `text` as a JSON document or as JSON lines, decoded: JSON escapes
    an echoed, already-escaped value a second time, past the plain search."""
    found: list[str] = []
    for chunk in (text, *text.splitlines()):
        try:
            found.extend(_strings(json.loads(chunk)))
        except ValueError:
            continue
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture
def known() -> Known:
    return Known()


@pytest.fixture
def sandbox(sandbox_factory: Any, known: Known) -> Sandbox:
    user = {"password": known["password"], "backend_roles": ["admin"], "roles": ["all_access"]}
    users = {USER: user, **brownfield.USERS}  # the analyst, for `brownfield.fill`
    return sandbox_factory("3.x", security=True, users=users)  # type: ignore[no-any-return]


@pytest.fixture
def gateway(sandbox: Sandbox, known: Known) -> Iterator[Gateway]:
    with Gateway(sandbox.url, require=(GATEWAY_HEADER, f"Bearer {known['token']}")) as proxy:
        yield proxy


def environment(known: Known, url: str) -> dict[str, str]:
    """What a CI job sets: cluster credentials and every secret source, in the environment."""
    return {
        "OPENSEARCH_URL": url,
        "OPENSEARCH_USERNAME": USER,
        "OPENSEARCH_PASSWORD": known["password"],
        "OSML_HEADERS": f"{GATEWAY_HEADER}: Bearer {known['token']}",
        "LEAK_ENV_KEY": known["env"],
        "LEAK_INLINE_KEY": known["inline"],
        "OSML_SECRET_KEY": known.key.to_text(),
        "OSML_PLAN_KEY": known.plan_key.to_text(),
        "NO_COLOR": "1",
    }


class Run:
    """Runs osml in-process and keeps all it said, for one search at the end."""

    def __init__(self, known: Known, *, url: str, caplog: pytest.LogCaptureFixture) -> None:
        self.known, self.env, self.caplog = known, environment(known, url), caplog
        self.transcript: list[str] = []
        caplog.set_level(logging.DEBUG)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        result = CliRunner().invoke(main, list(args), env=self.env, input=stdin)
        said = [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            said.append("".join(traceback.format_exception(result.exception)))
        self.transcript.append(f"$ osml {' '.join(args)}\n" + "\n".join(said))
        return result

    def assert_clean(self, *extra: str) -> None:
        """No known value in anything said, logged or given in `extra`."""
        for text in (*self.transcript, self.caplog.text, *extra):
            assert self.known.leaks(text) == [], self.known.context(text)


@pytest.fixture
def run(known: Known, gateway: Gateway, caplog: pytest.LogCaptureFixture) -> Run:
    return Run(known, url=gateway.url, caplog=caplog)


def stored_documents(sandbox: Sandbox, known: Known) -> str:
    """Every document of every index the cluster holds (the state index among them)."""
    client = OpenSearch(sandbox.url, http_auth=(USER, known["password"]))
    try:
        hits = client.search(index="_all", body={"query": {"match_all": {}}, "size": 10000})
    finally:
        client.close()
    assert any(h["_index"] == "osml-state" for h in hits["hits"]["hits"])
    return json.dumps(hits)


# -- manifests --------------------------------------------------------------------------


def with_credential(doc: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    doc["spec"]["credential"] = {"openAI_key": ref}
    return doc


def write_manifests(directory: Path, known: Known, *, file_value: str | None = None) -> Path:
    """A group, three connectors (fromEnv, fromFile, encrypted) and two models, one of
    them with an internal connector whose credential comes from the environment."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(exist_ok=True)
    (directory / "keys" / "openai.txt").write_text((file_value or known["file"]) + "\n")
    inline = with_credential(connector("inline"), {"fromEnv": "LEAK_INLINE_KEY"})["spec"]
    embedded = model("inline-bot", connector_name="-", group_name="team", deployed=False)
    embedded["spec"]["connector"] = inline
    docs = [
        group("team"),
        with_credential(connector("env-chat"), {"fromEnv": "LEAK_ENV_KEY"}),
        with_credential(connector("file-chat"), {"fromFile": "keys/openai.txt"}),
        with_credential(
            connector("enc-chat"), {"encrypted": encrypt(known["encrypted"], known.key)}
        ),
        model("bot", connector_name="env-chat", group_name="team"),
        embedded,
    ]
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory


@pytest.fixture
def manifests(tmp_path: Path, known: Known) -> Path:
    return write_manifests(tmp_path / "manifests", known)


# -- every command ----------------------------------------------------------------------


def test_the_search_would_find_a_value_that_leaked(run: Run, known: Known) -> None:
    """The harness itself: a value logged at DEBUG anywhere is found."""
    logging.getLogger("reconciler.anything").debug("oops: %s", known["inline"])
    with pytest.raises(AssertionError, match="inline"):
        run.assert_clean()


def test_validate_prints_no_secret(run: Run, manifests: Path) -> None:
    assert run("validate", str(manifests)).exit_code == 0
    assert run("validate", str(manifests), "--format", "json").exit_code == 0
    # --check-secrets resolves every reference (and decrypts) without printing a value,
    # also when some fail: a wrong key, a variable that is gone.
    assert run("validate", str(manifests), "--check-secrets").exit_code == 0
    run.env["OSML_SECRET_KEY"] = SecretKey.generate().to_text()
    del run.env["LEAK_INLINE_KEY"]
    failed = run("validate", str(manifests), "--check-secrets", "--format", "json")
    assert failed.exit_code == 1
    assert "but the key given is" in failed.output and "LEAK_INLINE_KEY" in failed.output
    run.assert_clean((manifests / "all.yaml").read_text())


@pytest.mark.parametrize("view", ["text", "json", "markdown"])
def test_plan_views_and_plan_files_hold_no_secret(
    run: Run, manifests: Path, tmp_path: Path, view: str
) -> None:
    out = tmp_path / f"plan-{view}.json"
    result = run("plan", str(manifests), "--format", view, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "(sensitive)" in result.stdout
    shown = run("show", str(out), "--format", view)
    assert shown.exit_code == 0, shown.output
    assert "signature verified" in shown.stderr
    run.assert_clean(out.read_text())


def test_apply_both_entry_points_state_lock_and_import(
    run: Run, manifests: Path, tmp_path: Path, known: Known, sandbox: Sandbox
) -> None:
    assert run("apply", str(manifests), "--auto-approve").exit_code == 0, run.transcript[-1]
    # Rotate two credentials; the saved plan carries only their changed fingerprints.
    run.env["LEAK_ENV_KEY"] = known["rotated-env"]
    write_manifests(manifests, known, file_value=known["rotated-file"])
    # This time the key for `encrypted:` comes from a key file, not the environment.
    key_file = tmp_path / "osml.key"
    key_file.write_text(run.env.pop("OSML_SECRET_KEY"))
    saved = tmp_path / "rotation.plan.json"
    result = run("plan", str(manifests), "--out", str(saved), "--key-file", str(key_file))
    assert "(sensitive, changed)" in result.stdout, result.output
    result = run("apply", str(saved), "--manifests", str(manifests), "--key-file", str(key_file))
    assert result.exit_code == 0, result.output

    for args in (
        ("state", "list"),
        *(("state", "show", key) for key in ("Connector/env-chat", "Model/inline-bot")),
        ("lock", "status"),
    ):
        assert run(*args).exit_code == 0, run.transcript[-1]
    live_id = json.loads(run("state", "show", "Connector/file-chat").stdout)["live_id"]
    assert run("state", "rm", "Connector/file-chat").exit_code == 0
    assert run("import", "Connector/file-chat", live_id).exit_code == 0
    with connect(connection_settings(sandbox.url, known)) as conn:
        lease = acquire_lock(conn, operation="apply", holder="someone@elsewhere")
    assert run("lock", "status").exit_code == 0
    assert run("lock", "force-unlock", lease.info.lock_id).exit_code == 1  # live: refused
    assert run("lock", "force-unlock", lease.info.lock_id, "--force").exit_code == 0
    run.assert_clean(saved.read_text(), stored_documents(sandbox, known))


def test_refresh_only_fmt_and_destroy_print_no_secret(
    run: Run, manifests: Path, known: Known, sandbox: Sandbox
) -> None:
    assert run("apply", str(manifests), "--auto-approve").exit_code == 0, run.transcript[-1]
    run.env["LEAK_ENV_KEY"] = known["rotated-env"]  # a rotated key: drift osml cannot see
    for args in (
        ("plan", "--refresh-only"),
        ("plan", "--refresh-only", "--format", "json"),
        ("apply", "--refresh-only", "--auto-approve"),
        ("fmt", "--check", "--diff", str(manifests)),
    ):
        assert run(*args).exit_code in (0, 1), run.transcript[-1]
    documents = stored_documents(sandbox, known)
    result = run("destroy", str(manifests), "--auto-approve")
    assert result.exit_code == 0 and "deleted" in result.stdout, run.transcript[-1]
    run.assert_clean(documents)


def test_export_and_its_round_trip_print_and_write_no_secret(
    run: Run, manifests: Path, tmp_path: Path, known: Known, sandbox: Sandbox
) -> None:
    """What osml applied and what scripts made (every credential the known value) is
    exported; the files, the README and all export says hold no value, nor do the plan
    and apply of the export with its variables set, nor a second export over it."""
    brownfield.fill(sandbox, secret=known["env"])
    run.caplog.clear()  # what the scripts sent (opensearch-py logs it), not osml
    assert run("apply", str(manifests), "--auto-approve").exit_code == 0, run.transcript[-1]
    out = tmp_path / "exported"
    result = run("export", "--out", str(out))
    assert result.exit_code == 0, run.transcript[-1]
    readme = (out / "README.md").read_text()
    variables = re.findall(r"^\| `([A-Z0-9_]+)` \|", readme, re.MULTILINE)
    assert "CONNECTOR_ENV_CHAT_OPENAI_KEY" in variables and len(variables) > 10, readme
    run.env.update({name: known["env"] for name in variables})
    plan = run("plan", str(out), "--format", "json")
    assert plan.exit_code == 0, run.transcript[-1]
    assert run("apply", str(out), "--auto-approve").exit_code == 0, run.transcript[-1]
    assert run("export", "--out", str(out), "--force").exit_code == 0, run.transcript[-1]
    written = [path.read_text() for path in sorted(out.rglob("*")) if path.is_file()]
    assert len(written) > 30
    run.assert_clean(*written, stored_documents(sandbox, known))


@pytest.mark.parametrize(
    "route",
    ["POST /_plugins/_ml/connectors/_create", "POST /_plugins/_ml/models/_register"],
    ids=["connector-create", "model-register-inline-connector"],
)
def test_a_server_error_that_echoes_the_request_is_scrubbed(
    run: Run, manifests: Path, gateway: Gateway, known: Known, sandbox: Sandbox, route: str
) -> None:
    gateway.echo = [route]
    result = run("apply", str(manifests), "--auto-approve")
    assert result.exit_code == 1
    assert "Failed to parse request" in result.output
    # The echo really carried secrets back to osml (so there was something to scrub).
    assert gateway.echoed and all(known.leaks(reason) for reason in gateway.echoed)
    run.assert_clean(stored_documents(sandbox, known))


def test_an_echoed_basic_auth_header_is_scrubbed(
    run: Run, manifests: Path, gateway: Gateway
) -> None:
    gateway.echo, gateway.echo_authorization = ["POST /_plugins/_ml/model_groups/_register"], True
    assert run("apply", str(manifests), "--auto-approve").exit_code == 1
    assert gateway.echoed
    run.assert_clean()


def test_a_remote_service_quoting_the_key_is_scrubbed_from_the_cluster_error(
    run: Run, tmp_path: Path, known: Known, gateway: Gateway
) -> None:
    with ModelServer() as remote:
        remote.behaviour.status = 401
        remote.behaviour.error_body = {
            "error": {"message": f"Incorrect API key provided: {known['env']}"}
        }
        paths = probing_manifests(tmp_path, remote.url, probe=False)
        assert run("apply", str(paths), "--auto-approve").exit_code == 0, run.transcript[-1]
        model_id = json.loads(run("state", "show", "Model/probed").stdout)["live_id"]
        with (
            connect(connection_settings(gateway.url, known)) as conn,
            pytest.raises(ClusterError) as caught,
        ):
            MlCalls(conn, scrub=scrub).predict(model_id, {"parameters": {"messages": []}})
        sent = [r.headers.get("authorization") for r in remote.requests]
    assert sent == [f"Bearer {known['env']}"]
    message = str(caught.value)
    assert "Error from remote service" in message and "(sensitive)" in message
    run.assert_clean(message, caught.value.reason or "")


def test_a_remote_service_quoting_the_key_in_a_probe_failure_is_scrubbed(
    run: Run, tmp_path: Path, known: Known, sandbox: Sandbox
) -> None:
    with ModelServer() as remote:
        remote.behaviour.status = 401
        remote.behaviour.error_body = {
            "error": {"message": f"Incorrect API key provided: {known['env']}"}
        }
        paths = probing_manifests(tmp_path, remote.url, probe=True)
        result = run("apply", str(paths), "--auto-approve")
        # The failure is kept in the model's state record, and shown with it.
        shown = run("state", "show", "Model/probed")
        replan = run("plan", str(paths))
    assert result.exit_code == 1
    assert "probe failed" in result.output
    assert "Incorrect API key provided" in shown.stdout and "(sensitive)" in shown.stdout
    assert "probe" in replan.stdout
    run.assert_clean(stored_documents(sandbox, known))


def test_a_remote_answer_quoting_the_key_is_scrubbed_from_the_probe_summary(
    run: Run, tmp_path: Path, known: Known
) -> None:
    with ModelServer() as remote:
        text = f"Your key {known['env']} works."
        remote.behaviour.success_body = {"choices": [{"message": {"content": text}}]}
        paths = probing_manifests(tmp_path, remote.url, probe=True)
        result = run("apply", str(paths), "--auto-approve")
    assert result.exit_code == 0, result.output
    assert '  Model/probed: probe passed: "Your key (sensitive) works."' in result.output
    run.assert_clean()


def connection_settings(url: str, known: Known) -> ConnectionSettings:
    """Settings like the CLI builds from `environment(known, url)`."""
    return ConnectionSettings(
        url=url,
        username=USER,
        password=Secret(known["password"]),
        headers={GATEWAY_HEADER: Secret(f"Bearer {known['token']}")},
    )


def probing_manifests(directory: Path, remote: str, *, probe: bool) -> Path:
    """A connector to a loopback model server (allowed and trusted) and a model using it,
    probed after its deploy when `probe`."""
    chat = with_credential(
        connector("remote", url=f"{remote}/v1/chat/completions"), {"fromEnv": "LEAK_ENV_KEY"}
    )
    probed = model("probed", connector_name="remote", group_name="team")
    if probe:
        probed["lifecycle"]["probe"] = {"parameters": {"messages": []}, "timeout": 10}
    directory.mkdir(parents=True, exist_ok=True)
    docs = [*loopback_access(), group("team"), chat, probed]
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory


def test_watch_logs_and_metrics_hold_no_secret(
    gateway: Gateway, manifests: Path, known: Known, tmp_path: Path
) -> None:
    gateway.echo = ["POST /_plugins/_ml/connectors/_create"]
    env = {**os.environ, **environment(known, gateway.url), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "reconciler", "watch", str(manifests), "--interval", "1h",
        "--listen", "127.0.0.1:0", "--no-watch-files",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        lines = _lines_until(process, "watch_started")
        listen = json.loads(lines[-1])["listen"]
        lines += _lines_until(process, "cycle_finished")
        served = [_get(f"http://{listen}/{path}") for path in ("metrics", "healthz", "readyz")]
        process.send_signal(signal.SIGTERM)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    said = "\n".join([*lines, *served, rest, errors])
    assert gateway.echoed and "Failed to parse request" in said
    assert "osml_" in served[0]
    assert known.leaks(said) == [], known.context(said)


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return str(answer.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())


def _lines_until(process: subprocess.Popen[str], event: str) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if json.loads(line).get("event") == event:
            return lines
    pytest.fail(f"watch ended without {event}: {''.join(lines)}")


# -- osml secrets -----------------------------------------------------------------------


def osml_secrets(*args: str, stdin: str | None = None, **env: str) -> Result:
    result = CliRunner().invoke(main, ["secrets", *args], input=stdin, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_encrypt_reads_stdin_and_prints_only_the_ciphertext(known: Known) -> None:
    key_env = {"OSML_SECRET_KEY": known.key.to_text()}
    result = osml_secrets("encrypt", stdin=known["encrypted"] + "\n", **key_env)
    assert result.exit_code == 0, result.output
    ciphertext = result.stdout.strip()
    assert ciphertext.startswith(f"osml:v1:{known.key.key_id}:")
    assert known.leaks(result.output) == []
    decrypted = osml_secrets("decrypt", stdin=ciphertext, **key_env)
    # `decrypt` is the one command that prints a secret: it was asked to.
    assert (decrypted.exit_code, decrypted.stdout) == (0, known["encrypted"] + "\n")

    refused = osml_secrets("encrypt", known["encrypted"], **key_env)
    assert refused.exit_code == 2 and "never from an argument" in refused.output
    assert known.leaks(refused.output) == []
    empty = osml_secrets("encrypt", stdin="", **key_env)
    assert empty.exit_code == 1 and "nothing to encrypt" in empty.stderr


def _tampered(ciphertext: str) -> str:
    head, _, body = ciphertext.rpartition(":")
    return f"{head}:{body[:-6]}{'A' if body[-6] != 'A' else 'B'}{body[-5:]}"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong key", "was encrypted with key {old}, but the key given is {new}"),
        ("tampered", "cannot be decrypted: it was altered or is corrupt"),
        ("not a ciphertext", "not an osml ciphertext"),
    ],
)
def test_a_wrong_key_or_a_tampered_ciphertext_fails_clearly(
    known: Known, case: str, expected: str
) -> None:
    ciphertext = encrypt(known["encrypted"], known.key)
    other = SecretKey.generate()
    key, given = {
        "wrong key": (other, ciphertext),
        "tampered": (known.key, _tampered(ciphertext)),
        "not a ciphertext": (known.key, known["encrypted"][::-1]),
    }[case]
    result = osml_secrets("decrypt", stdin=given, OSML_SECRET_KEY=key.to_text())
    assert result.exit_code == 1
    assert expected.format(old=known.key.key_id, new=other.key_id) in result.stderr
    assert known.leaks(result.output) == []


def test_keygen_writes_a_0600_key_file_and_never_overwrites_one(tmp_path: Path) -> None:
    out = tmp_path / "osml.key"
    result = osml_secrets("keygen", "--out", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    key = SecretKey.from_text(out.read_text(), origin="test")
    assert out.stat().st_mode & 0o777 == 0o600
    assert result.stderr.strip() == f"Wrote key {key.key_id} to {out}"
    again = osml_secrets("keygen", "--out", str(out))
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert SecretKey.from_text(out.read_text(), origin="test").key_id == key.key_id
    printed = osml_secrets("keygen")
    assert SecretKey.from_text(printed.stdout, origin="stdout").key_id != key.key_id


CIPHERTEXT = re.compile(r"osml:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+")


def _tree(root: Path, key: SecretKey, plaintexts: dict[str, str]) -> dict[Path, str]:
    """A manifest tree with ciphertexts in several quotings, comments, and bystanders."""
    sealed = {name: encrypt(value, key) for name, value in plaintexts.items()}
    files = {
        root / "a.yaml": (
            "# team connectors: keep this comment\n"
            "kind: Connector\nspec:\n  credential:\n"
            f"    openAI_key: {{encrypted: {sealed['a1']}}}   # trailing comment\n"
            f'    other:  {{ encrypted: "{sealed["a2"]}" }}\r\n'
            "---\nkind: ModelGroup\n"
        ),
        root / "team" / "b.yml": f"credential:\n  key:\n    encrypted: '{sealed['b1']}'\n",
        root / "team" / "plain.yaml": "kind: ModelGroup\nmetadata: {name: x}\n",
        root / "notes.txt": f"not a manifest: {sealed['n1']}\n",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    return {path: text for path, text in files.items()}


def test_rekey_over_a_tree_changes_every_ciphertext_and_nothing_else(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("old", "new"):
        assert osml_secrets("keygen", "--out", str(keys / name)).exit_code == 0
    old, new = (SecretKey.from_text((keys / n).read_text(), origin=n) for n in ("old", "new"))
    plaintexts = {name: f"{name}-{random_tokens.token_hex(8)}" for name in ("a1", "a2", "b1", "n1")}
    before = _tree(tmp_path / "m", old, plaintexts)
    result = osml_secrets(
        "rekey", str(tmp_path / "m"), "--key-file", str(keys / "old"),
        "--new-key-file", str(keys / "new"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Re-encrypted 3 value(s) from key {old.key_id} to key {new.key_id}." in result.stdout
    assert not [p for p in plaintexts.values() if p in result.output]
    for path, text in before.items():
        after = path.read_bytes().decode()
        if path.suffix not in (".yaml", ".yml"):
            assert after == text  # only manifest files are rewritten
            continue
        assert CIPHERTEXT.split(after) == CIPHERTEXT.split(text)  # byte for byte elsewhere
        for was, now in zip(CIPHERTEXT.findall(text), CIPHERTEXT.findall(after), strict=True):
            assert now.startswith(f"osml:v1:{new.key_id}:") and now != was
            assert decrypt(now, new).reveal() == decrypt(was, old).reveal()


def test_rekey_with_the_wrong_key_changes_nothing(tmp_path: Path, known: Known) -> None:
    before = _tree(
        tmp_path / "m", known.key, {n: known["encrypted"] for n in ("a1", "a2", "b1", "n1")}
    )
    result = osml_secrets(
        "rekey", str(tmp_path / "m"),
        OSML_SECRET_KEY=SecretKey.generate().to_text(),
        OSML_NEW_SECRET_KEY=SecretKey.generate().to_text(),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "a.yaml:5: encrypted value was encrypted with key" in result.stderr
    assert all(path.read_bytes().decode() == text for path, text in before.items())
    assert known.leaks(result.output) == []


# -- a credential written into a header -------------------------------------------------


def literal_header_manifests(directory: Path, token: str) -> Path:
    """A connector and a model's internal connector that each carry `token` in a header."""
    standalone = with_credential(connector("literal"), {"fromEnv": "LEAK_ENV_KEY"})
    standalone["spec"]["actions"][0]["headers"]["x-api-key"] = token
    inline = with_credential(connector("inline"), {"fromEnv": "LEAK_INLINE_KEY"})["spec"]
    inline["actions"][0]["headers"] = {"Authorization": f"Bearer {token}"}
    embedded = model("inline-bot", connector_name="-", group_name="team", deployed=False)
    embedded["spec"]["connector"] = inline
    directory.mkdir(parents=True, exist_ok=True)
    docs = [group("team"), standalone, embedded]
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return directory


def test_a_literal_credential_header_is_warned_and_never_shown(
    run: Run, tmp_path: Path, known: Known, sandbox: Sandbox
) -> None:
    token, rotated = (f"sk-{word}-{random_tokens.token_hex(8)}" for word in ("lit", "rot"))

    def leaked(*texts: str) -> list[str]:
        return [
            value
            for value in (token, rotated)
            for text in texts
            if any(value in t for t in (text, *json_strings(text)))
        ]

    manifests = literal_header_manifests(tmp_path / "headers", token)
    result = run("validate", str(manifests))
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stdout.splitlines() if "literal credential" in line]
    assert [line.split(": warning: ")[1].split(": header")[0] for line in warned] == [
        "Connector/literal: spec.actions[0].headers.x-api-key",
        "Model/inline-bot: spec.connector.actions[0].headers.Authorization",
    ]
    assert all(re.match(rf"{re.escape(str(manifests))}/all.yaml:\d+:\d+: ", w) for w in warned)

    def plans(tag: str) -> list[str]:
        found = []
        for view in ("text", "json", "markdown"):
            out = tmp_path / f"{tag}-{view}.plan.json"
            result = run("plan", str(manifests), "--format", view, "--out", str(out))
            assert result.exit_code == 0, result.output
            found += [result.output, out.read_text()]
        return found

    created = plans("create")
    assert run("apply", str(manifests), "--auto-approve").exit_code == 0, run.transcript[-1]
    unchanged = plans("noop")  # now the live side holds the header too
    assert "No changes" in unchanged[0]
    # Rotated, through a saved plan: apply sends the value the manifests hold now.
    literal_header_manifests(manifests, rotated)
    saved = tmp_path / "rotation.plan.json"
    result = run("plan", str(manifests), "--out", str(saved), "--format", "json")
    assert result.exit_code == 0, result.output
    changed = {f["path"] for c in json.loads(result.stdout)["changes"] for f in c["fields"]}
    assert "actions[0].headers.x-api-key" in changed
    result = run("apply", str(saved), "--manifests", str(manifests))
    assert result.exit_code == 0, result.output

    logged = run.caplog.text  # before this test's own client logs what it reads
    for text in (*created, *unchanged, saved.read_text(), *run.transcript, logged):
        assert leaked(text) == [], text
    state = stored_documents(sandbox, known)
    state_docs = [h for h in json.loads(state)["hits"]["hits"] if h["_index"] == "osml-state"]
    assert leaked(json.dumps(state_docs)) == []
    # The server keeps headers in clear: the rotated value is what apply sent.
    live_id = json.loads(run("state", "show", "Connector/literal").stdout)["live_id"]
    client = OpenSearch(sandbox.url, http_auth=(USER, known["password"]))
    try:
        live = client.transport.perform_request("GET", f"/_plugins/_ml/connectors/{live_id}")
    finally:
        client.close()
    assert live["actions"][0]["headers"]["x-api-key"] == rotated
