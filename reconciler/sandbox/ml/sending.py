"""The outbound call of a predict (reference §8.1): sign, then emulate or send.

Predicting hands over the rendered method, URL, payload and headers. For `aws_sigv4`
connectors the request is signed as ML Commons signs it (`providers.sigv4`: the connector's
access_key, secret_key, optional session_token; `region` and `service_name` from its
parameters, else its credential). With the emulators on (the default, `ctx.config`), a URL
on a well-known provider host is answered by `providers.emulating`, after the fault spec's
URL rules had their say (an injected 429 is the provider's own rate-limit answer); so is a
host the sandbox was told to emulate (`ctx.config.emulate_hosts`, even with the emulators
off), after predicting's address and trust rules ran as for a real call. Any other host
gets a real HTTP call with urllib, unless the sandbox is offline (`osml plan
--probe-offline`), where only emulated providers answer. Returns (status, raw body);
network failures raise `SendError`. Credentials stay in local variables; nothing here logs.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.providers import emulating, sigv4
from reconciler.sandbox.providers.exchanges import Call

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context


class SendError(Exception):
    """The remote service could not be reached; the text is the transport's reason."""


def send(
    ctx: Context,
    connector: Mapping[str, Any],
    *,
    method: str,
    url: str,
    payload: str,
    headers: Mapping[str, str],
    credential: Mapping[str, str],
    timeout: float,
) -> tuple[int, bytes]:
    """Status and body of the remote answer (emulated or real)."""
    body = payload.encode("utf-8") if payload else b""
    sent = _with_content_type(headers)
    keys = None
    if connector.get("protocol") == "aws_sigv4":
        keys = _keys(credential)
        sent = sigv4.sign(
            method=method,
            url=url,
            headers={**sent, "Content-Length": str(len(body))},
            body=body,
            keys=keys,
            scope=_scope(connector, credential),
            when=_now(ctx),
        )
    call = Call(method=method, url=url, headers=sent, body=body)
    target = emulating.find(
        call,
        hosts=ctx.config.emulate_hosts,
        well_known=ctx.config.emulators or ctx.config.offline,
    )
    if target is None and ctx.config.offline:
        raise SendError(f"{call.host} is not an emulated provider and the sandbox is offline")
    if target is None:
        return _real(call, timeout=timeout)
    return _emulated(ctx, target, call, keys=keys)


def _with_content_type(headers: Mapping[str, str]) -> dict[str, str]:
    # ML Commons adds `Content-Type: application/json` unless the action sets one.
    if any(name.lower() == "content-type" for name in headers):
        return dict(headers)
    return {"Content-Type": "application/json", **headers}


def _keys(credential: Mapping[str, str]) -> sigv4.Keys:
    return sigv4.Keys(
        access_key=credential.get("access_key", ""),
        secret_key=credential.get("secret_key", ""),
        session_token=credential.get("session_token") or None,
    )


def _scope(connector: Mapping[str, Any], credential: Mapping[str, str]) -> sigv4.Scope:
    # AwsConnector.getRegion / getServiceName: the parameter first, then the credential.
    params = connector.get("parameters") or {}

    def pick(name: str) -> str:
        return str(params.get(name) or credential.get(name) or "")

    return sigv4.Scope(region=pick("region"), service=pick("service_name"))


def _now(ctx: Context) -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx.clock(), tz=dt.UTC)


def _emulated(
    ctx: Context, target: emulating.Target, call: Call, *, keys: sigv4.Keys | None
) -> tuple[int, bytes]:
    decision = ctx.faults.decide_outbound(call.method, call.url)
    if decision.delay:
        time.sleep(decision.delay)
    if decision.action in ("reset", "lost"):
        raise SendError("Connection reset")
    fault = decision.status if decision.action == "error" else None
    reply = emulating.respond(target, call, aws_keys=keys, now=_now(ctx), fault=fault)
    return reply.status, reply.body


def _real(call: Call, *, timeout: float) -> tuple[int, bytes]:
    outbound = urllib.request.Request(
        call.url, data=call.body or None, method=call.method, headers=dict(call.headers)
    )
    try:
        with urllib.request.urlopen(outbound, timeout=timeout) as answer:
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())
    except (urllib.error.URLError, OSError) as err:
        raise SendError(str(getattr(err, "reason", err))) from None
