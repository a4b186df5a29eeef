"""The `aws-managed` flavor of the sandbox: an Amazon OpenSearch Service domain, as
docs/reference/aws-managed.md describes one.

Such a domain accepts the credential forms of the managed service (`roleArn`: the domain
assumes the role and signs SigV4 calls with its temporary keys; `secretArn`: the actions'
`${credential.secretArn.<key>}` placeholders are filled from that Secrets Manager secret),
refuses the `plugins.ml_commons.*` settings the service keeps for itself, and answers
`GET /` with a cluster name of the form `<account id>:<domain name>`.

The sandbox has no AWS behind it: the assumed role's keys and the secret's values are
derived from the ARN (stable, never real), which is enough for the provider emulators, as
they accept any keys a request is correctly signed with and any API key. Used by the
server (`GET /`), cluster settings, connector parsing and predicting; no network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

OPENSEARCH = "opensearch"
AWS_MANAGED = "aws-managed"
FLAVORS = (OPENSEARCH, AWS_MANAGED)
"""The flavors `--flavor` takes."""

ACCOUNT = "123456789012"
DOMAIN = "osml-sandbox"
CLUSTER_NAME = f"{ACCOUNT}:{DOMAIN}"
"""What a managed domain reports as `cluster_name` in `GET /`."""

REFUSED_SETTINGS = frozenset(
    f"plugins.ml_commons.{key}"
    for key in (
        "trusted_connector_endpoints_regex",
        "allow_registering_model_via_url",
        "allow_registering_model_via_local_file",
    )
)
"""Settings a managed domain does not let users write."""

REFUSAL_STATUS = 401
"""The status the service's request filter answers a refused settings payload with."""

_SECRET_PLACEHOLDER = re.compile(r"\$\{credential\.secretArn\.([^}]+?)\}")


def cluster_name(flavor: str) -> str:
    """The `cluster_name` of `GET /` and `_cluster/health` for `flavor`."""
    return CLUSTER_NAME if flavor == AWS_MANAGED else DOMAIN


def refused_keys(body: Mapping[str, Any]) -> list[str]:
    """The refused settings a `PUT _cluster/settings` body writes (set or reset)."""
    found: list[str] = []
    for scope in ("persistent", "transient"):
        found += [key for key in _flat(body.get(scope) or {}) if key in REFUSED_SETTINGS]
    return sorted(set(found))


def refusal() -> dict[str, str]:
    """The body the service answers a refused settings payload with."""
    return {"Message": "Your request: '/_cluster/settings' payload is not allowed."}


def has_role(credential: Mapping[str, Any]) -> bool:
    """Whether a connector credential names a role the domain assumes to sign."""
    return "roleArn" in credential


def for_call(credential: Mapping[str, str], *, headers: Mapping[str, Any]) -> dict[str, str]:
    """`credential` as the domain uses it for one call: with a roleArn and no keys, the
    assumed role's temporary keys; with a secretArn, each `secretArn.<key>` the headers
    name, from the secret."""
    used = dict(credential)
    role = credential.get("roleArn")
    if role and "access_key" not in credential:
        used.update(assumed_keys(role))
    secret = credential.get("secretArn")
    if secret:
        for value in headers.values():
            for key in _SECRET_PLACEHOLDER.findall(str(value)):
                used[f"secretArn.{key}"] = secret_value(secret, key)
    return used


def assumed_keys(role_arn: str) -> dict[str, str]:
    """The temporary keys of the sandbox's AssumeRole of `role_arn` (derived, not real)."""
    digest = hashlib.sha256(role_arn.encode()).hexdigest()
    return {
        "access_key": "ASIA" + digest[:16].upper(),
        "secret_key": digest[16:56],
        "session_token": "sandbox-session-" + digest[56:],
    }


def secret_value(secret_arn: str, key: str) -> str:
    """The value of `key` in the sandbox's copy of the secret `secret_arn` (derived)."""
    digest = hashlib.sha256(f"{secret_arn}\0{key}".encode()).hexdigest()
    return f"sandbox-secret-{digest[:24]}"


def _flat(value: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, item in value.items():
        full = f"{prefix}{key}"
        if isinstance(item, Mapping):
            keys += _flat(item, full + ".")
        else:
            keys.append(full)
    return keys
