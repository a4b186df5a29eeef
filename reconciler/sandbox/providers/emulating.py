"""Which host is which provider, and the answer an emulated provider gives to one call.

Predict's sender asks `find(call)` just before it would open a connection. For a URL that
names a well-known provider host (docs/sandbox.md lists them), `respond` gives that
provider's answer, after checking what the real endpoint checks first: AWS hosts verify the SigV4
signature against the connector's own keys (a wrong key, a tampered body, a wrong region or
service is refused with AWS's error), an injected fault (a fault-spec rule whose route is a
URL) becomes the provider's own 429 or 5xx. A sandbox started with `emulate_hosts`
(`HOST[:PORT]` -> a name in `FAMILIES`) has those hosts answered by that family's emulator
too, e.g. a self-hosted OpenAI-compatible server; `parse_host` reads the `HOST[:PORT]=FAMILY`
form of the command line. For any other host `find` is None and the caller makes the real
call. No network, no store, no logging of headers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Mapping

from reconciler.sandbox.providers import (
    alephalpha,
    amazon,
    bedrock,
    cohere,
    google,
    ollama,
    openai,
    sigv4,
    yandex,
)
from reconciler.sandbox.providers.exchanges import Call, Reply, reply


@dataclasses.dataclass(frozen=True)
class Emulator:
    """One emulated provider API."""

    name: str
    handle: Callable[[Call], Reply]
    fail: Callable[[int, str], Reply]
    """The provider's error answer for a status and message (injected faults)."""
    rate_limit: str
    """The provider's message for 429."""
    aws: AwsError | None = None
    """For AWS hosts: the protocol's error answer (status, error type, message)."""
    aws_service: str | None = None
    """For AWS hosts: the SigV4 signing name the endpoint expects."""


AwsError = Callable[[int, str, str], Reply]
_AWS_CODES = {
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _openai_fail(status: int, message: str) -> Reply:
    return (
        openai.rate_limited()
        if status == 429
        else openai.error(status, message, kind="server_error")
    )


def _azure_fail(status: int, message: str) -> Reply:
    return reply(status, {"error": {"code": str(status), "message": message}})


def _aws(name: str, handle: Callable[[Call], Reply], error: AwsError, *, service: str) -> Emulator:
    def fail(status: int, message: str) -> Reply:
        return error(status, _AWS_CODES.get(status, "ServiceUnavailableException"), message)

    limit = (
        "Too many requests, please wait before trying again."
        if service == "bedrock"
        else "Rate exceeded"
    )
    return Emulator(name, handle, fail, limit, aws=error, aws_service=service)


_OPENAI = Emulator("OpenAI", openai.openai, _openai_fail, "Rate limit reached for requests.")
_AZURE = Emulator(
    "Azure OpenAI",
    openai.azure,
    _azure_fail,
    "Requests to the ChatCompletions_Create Operation have exceeded call rate limit. "
    "Please retry after 1 second.",
)
_DEEPSEEK = Emulator("DeepSeek", openai.deepseek, _openai_fail, "Rate limit reached for requests.")
_COHERE = Emulator("Cohere", cohere.cohere, cohere.error, cohere.RATE_LIMIT)
_GEMINI = Emulator("Google Gemini", google.gemini, google.error, google.RATE_LIMIT)
_VERTEX = Emulator("Google Vertex AI", google.vertex, google.error, google.RATE_LIMIT)
_YANDEX = Emulator("Yandex Cloud AI Studio", yandex.yandex, yandex.error, yandex.RATE_LIMIT)
_ALEPH = Emulator("Aleph Alpha", alephalpha.aleph_alpha, alephalpha.error, "Too many requests")
_OLLAMA = Emulator("Ollama", ollama.ollama, ollama.error, "too many requests")
_BEDROCK = _aws("Amazon Bedrock", bedrock.bedrock, bedrock.error, service="bedrock")
_SAGEMAKER = _aws("Amazon SageMaker", amazon.sagemaker, amazon.rest_error, service="sagemaker")
_COMPREHEND = _aws(
    "Amazon Comprehend", amazon.comprehend, amazon.json11_error, service="comprehend"
)
_TEXTRACT = _aws("Amazon Textract", amazon.textract, amazon.json11_error, service="textract")

_REGION = r"(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)"
_HOSTS: tuple[tuple[re.Pattern[str], Emulator], ...] = tuple(
    (re.compile(pattern), emulator)
    for pattern, emulator in (
        (r"api\.openai\.com", _OPENAI),
        (r"[a-z0-9][a-z0-9-]*\.openai\.azure\.com", _AZURE),
        (r"api\.deepseek\.com", _DEEPSEEK),
        (r"api\.cohere\.(?:ai|com)", _COHERE),
        (r"generativelanguage\.googleapis\.com", _GEMINI),
        (r"(?:[a-z]+-[a-z]+\d+-)?aiplatform\.googleapis\.com", _VERTEX),
        (r"(?:llm|ai)\.api\.cloud\.yandex\.net", _YANDEX),
        (r"api\.aleph-alpha\.com", _ALEPH),
        (rf"bedrock-runtime\.{_REGION}\.amazonaws\.com", _BEDROCK),
        (rf"runtime\.sagemaker\.{_REGION}\.amazonaws\.com", _SAGEMAKER),
        (rf"comprehend\.{_REGION}\.amazonaws\.com", _COMPREHEND),
        (rf"textract\.{_REGION}\.amazonaws\.com", _TEXTRACT),
    )
)
OLLAMA_PORT = 11434
"""Ollama's default port: `localhost:11434` and `127.0.0.1:11434` are emulated."""
FAMILIES: Mapping[str, Emulator] = {"openai": _OPENAI, "ollama": _OLLAMA}
"""The APIs a mapped host may speak: OpenAI's paths (a bearer key required, as on
api.openai.com) and Ollama's (no key)."""
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_PORT = re.compile(r"(?P<name>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(?P<port>\w*))?")


@dataclasses.dataclass(frozen=True)
class Target:
    """The emulated provider a call goes to and, for AWS hosts, the region in its host."""

    emulator: Emulator
    region: str | None = None


def find(
    call: Call, *, hosts: Mapping[str, str] | None = None, well_known: bool = True
) -> Target | None:
    """The emulated provider for the call's host, or None for any other host. `hosts` maps
    `host` or `host:port` to a family name (checked by `check_hosts`); it is looked at first,
    and the well-known hosts only when `well_known`."""
    if hosts:
        port = call.port or _DEFAULT_PORTS.get(call.url.partition(":")[0].lower())
        family = hosts.get(f"{call.host}:{port}") or hosts.get(call.host)
        if family is not None:
            return Target(FAMILIES[family])
    if not well_known:
        return None
    if call.host in ("localhost", "127.0.0.1") and call.port == OLLAMA_PORT:
        return Target(_OLLAMA)
    for pattern, emulator in _HOSTS:
        match = pattern.fullmatch(call.host)
        if match:
            return Target(emulator, match.groupdict().get("region"))
    return None


def check_hosts(hosts: Mapping[str, str]) -> dict[str, str]:
    """`hosts` with lower-case hosts, or ValueError for a malformed host or unknown family."""
    checked = {}
    for host, family in hosts.items():
        key, name = parse_host(f"{host}={family}")
        checked[key] = name
    return checked


def parse_host(text: str) -> tuple[str, str]:
    """`HOST[:PORT]=FAMILY` as (`host[:port]`, family); ValueError names what is wrong."""
    host, sep, family = text.partition("=")
    host, family = host.strip().lower(), family.strip().lower()
    match = _HOST_PORT.fullmatch(host)
    if not sep or match is None:
        raise ValueError(f"expected HOST[:PORT]=FAMILY, got {text!r}")
    name, port = match.group("name"), match.group("port")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"expected a port from 1 to 65535 in {text!r}")
    if family not in FAMILIES:
        raise ValueError(f"unknown emulator family {family!r} (known: {', '.join(FAMILIES)})")
    return (name if port is None else f"{name}:{int(port)}"), family


def respond(
    target: Target,
    call: Call,
    *,
    aws_keys: sigv4.Keys | None,
    now: dt.datetime,
    fault: int | None = None,
) -> Reply:
    """The emulated provider's answer: signature refusal, injected fault, or the API's own."""
    emulator = target.emulator
    if emulator.aws is not None and emulator.aws_service and target.region is not None:
        scope = sigv4.Scope(region=target.region, service=emulator.aws_service)
        refused = _check_signature(call, emulator.aws, scope=scope, keys=aws_keys, now=now)
        if refused is not None:
            return refused
    if fault is not None:
        message = emulator.rate_limit if fault == 429 else "Internal server error"
        return emulator.fail(fault, message)
    return emulator.handle(call)


def _check_signature(
    call: Call, error: AwsError, *, scope: sigv4.Scope, keys: sigv4.Keys | None, now: dt.datetime
) -> Reply | None:
    # A connector without AWS keys (an `http` connector to an AWS host) is an unknown caller.
    known = keys or sigv4.Keys(access_key="", secret_key="")
    try:
        sigv4.verify(
            method=call.method,
            url=call.url,
            headers=call.headers,
            body=call.body,
            keys=known,
            scope=scope,
            now=now,
        )
    except sigv4.SignatureError as exc:
        return error(exc.status, exc.code, exc.message)
    return None
