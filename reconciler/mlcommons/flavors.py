"""Flavors of the target: self-managed OpenSearch or Amazon OpenSearch Service.

A flavor is a fact about the target like its version, and this module holds everything
that differs by it: which credential forms a connector may use (`roleArn`, `secretArn` and
the `${credential.secretArn.<key>}` placeholder exist on managed domains only), which
`plugins.ml_commons.*` settings a user may write, and how a cluster is recognised (the
SigV4 service name, the `GET /` answer). Each fact is cited in docs/reference/aws-managed.md,
which keeps what the public sources confirm apart from what is inferred. Used by the
manifest checks, the planner and the CLI; pure data, no I/O.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any


class Flavor(enum.StrEnum):
    """What kind of cluster the manifests target."""

    OPENSEARCH = "opensearch"
    """Self-managed OpenSearch with the open-source ML Commons plugin."""
    AWS_MANAGED = "aws-managed"
    """An Amazon OpenSearch Service domain (or a Serverless collection)."""


DEFAULT = Flavor.OPENSEARCH
"""The flavor assumed when nothing declares one and no cluster is asked."""

ROLE_ARN = "roleArn"
"""Credential key: an IAM role the managed domain assumes to sign SigV4 calls."""
SECRET_ARN = "secretArn"
"""Credential key: an AWS Secrets Manager secret whose JSON keys the actions read as
`${credential.secretArn.<key>}`."""
MANAGED_CREDENTIALS = frozenset({ROLE_ARN, SECRET_ARN})
"""Credential keys only managed domains understand; open-source ML Commons refuses an
aws_sigv4 connector that has only these with "Missing credential"."""

_ARN = {
    ROLE_ARN: re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"),
    SECRET_ARN: re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w+=,.@/-]+"),
}
_ARN_EXAMPLE = {
    ROLE_ARN: "arn:aws:iam::123456789012:role/NAME",
    SECRET_ARN: "arn:aws:secretsmanager:REGION:123456789012:secret:NAME",
}

UNSETTABLE = frozenset(
    {
        "trusted_connector_endpoints_regex",
        "allow_registering_model_via_url",
        "allow_registering_model_via_local_file",
    }
)
"""`plugins.ml_commons.*` keys (short form) a managed domain does not let users set. The two
model-registration keys are listed as unsupported by the service's developer guide; the
trusted-endpoint list is managed by the service (inferred, see the reference doc)."""

SIGV4_SERVICES = {"es": Flavor.AWS_MANAGED, "aoss": Flavor.AWS_MANAGED}
"""SigV4 service names of Amazon OpenSearch Service domains (`es`) and Serverless
collections (`aoss`): a connection signed for either targets a managed cluster."""

_DOMAIN_CLUSTER_NAME = re.compile(r"\d{12}:[a-z][a-z0-9-]{2,27}")
"""A managed domain reports `cluster_name` as `<account id>:<domain name>` (domain names:
3-28 characters, lower-case letters, digits and hyphens, starting with a letter)."""


def parse(text: str) -> Flavor:
    """`opensearch` or `aws-managed`; ValueError naming both otherwise."""
    try:
        return Flavor(text.strip().lower())
    except ValueError:
        known = ", ".join(f.value for f in Flavor)
        raise ValueError(f"{text!r} is not a flavor (one of {known})") from None


def arn_error(key: str, value: str) -> str | None:
    """Why `value` is not an ARN of the kind `key` names, or None."""
    pattern = _ARN.get(key)
    if pattern is None or pattern.fullmatch(value):
        return None
    return f"credential.{key} must be an ARN such as {_ARN_EXAMPLE[key]}"


def unsettable(short_key: str, flavor: Flavor) -> bool:
    """Whether a user may not write the setting `short_key` on `flavor`."""
    return flavor is Flavor.AWS_MANAGED and short_key in UNSETTABLE


def flavor_of_service(service: str | None) -> Flavor | None:
    """The flavor a SigV4 service name implies; None when there is no SigV4 or it says nothing."""
    return SIGV4_SERVICES.get(service or "")


def flavor_of_root(info: Mapping[str, Any]) -> Flavor:
    """The flavor the `GET /` answer shows: a managed domain's cluster name is
    `<account id>:<domain name>`; anything else is taken for self-managed OpenSearch."""
    name = info.get("cluster_name")
    if isinstance(name, str) and _DOMAIN_CLUSTER_NAME.fullmatch(name):
        return Flavor.AWS_MANAGED
    return Flavor.OPENSEARCH


def needs_managed(key: str) -> str:
    """The message for a managed-only credential form on a self-managed target."""
    instead = (
        "access_key, secret_key and session_token from {fromAwsRole: {role_arn: ...}} (short-"
        "lived keys osml mints and rotates), or long-term keys from {fromEnv: VAR}, "
        "{fromFile: path} or {encrypted: ...}"
        if key == ROLE_ARN
        else "the secret's own keys, e.g. openAI_key: {fromEnv: OPENAI_API_KEY}, written as "
        "${credential.openAI_key} in the headers"
    )
    return (
        f"credential.{key} is an Amazon OpenSearch Service form: it needs a managed domain "
        f"(flavor aws-managed; the target flavor is opensearch, where the server refuses it "
        f'with "Missing credential" or never fills it); on a self-managed cluster use {instead}'
    )
