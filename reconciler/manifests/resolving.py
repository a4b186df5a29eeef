"""Resolve the secret references of a manifest set into Secret values.

Called by the plan and apply commands just before planning (for fingerprints) and
before building request bodies. Every reference of the run is tried and every failure
reported together, each naming the file, line, resource and source, and never a value.
`fromFile` paths are relative to the manifest file that names them. Nothing here talks
to a cluster.

The AWS sources fill a connector's `access_key`, `secret_key` and `session_token` together:
one issuer per (resource, connector, source) mints them. `fromAwsProfile` asks the AWS
credential chain now (its keys stay the same until the chain renews them, so they are
fingerprinted like any secret; temporary ones need their session token beside them);
`fromAwsRole` becomes LeasedSecrets that call STS only
when the keys are sent (`secrets.leases`): every AssumeRole gives new keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.durations import format_duration
from reconciler.errors import Problem, SecretError, Severity
from reconciler.manifests.loading import LoadedManifest, ManifestSet
from reconciler.manifests.models import (
    AwsSource,
    ConnectorManifest,
    ConnectorSpec,
    Encrypted,
    FromAwsProfile,
    FromAwsRole,
    FromEnv,
    FromFile,
    ModelManifest,
    SecretRef,
)
from reconciler.resources import ResourceKey
from reconciler.secrets import Secret
from reconciler.secrets.aws import DEFAULT_SESSION_NAME, assume_role, chain_keys, sdk_missing
from reconciler.secrets.encrypting import KEY_ENV, SecretKey, decrypt
from reconciler.secrets.headers import is_literal_credential
from reconciler.secrets.leases import Issuer, LeasedSecret

YamlPath = tuple[str | int, ...]
"""Where a value is in its document (`"spec", "credential", "access_key"`)."""

SecretPath = tuple[ResourceKey, str]
"""(resource, `credential.<key>` or `connector.credential.<key>` for inline connectors; for
a literal credential header, its place: `actions[0].headers.Authorization`)."""


def secret_references(
    manifests: ManifestSet,
) -> Iterator[tuple[LoadedManifest, tuple[str | int, ...], str, SecretRef | str]]:
    """Every secret reference: (document, YAML path, secret path, reference)."""
    for doc in manifests:
        manifest = doc.manifest
        if isinstance(manifest, ConnectorManifest):
            yield from _of_connector(doc, manifest.spec, ("spec",), "")
        elif isinstance(manifest, ModelManifest) and manifest.spec.inline_connector:
            inline = manifest.spec.inline_connector
            yield from _of_connector(doc, inline, ("spec", "connector"), "connector.")


def literal_headers(manifests: ManifestSet) -> Iterator[tuple[LoadedManifest, str, str, str]]:
    """Every literal credential header: (document, secret path as a plan body names it,
    header name, value). The value is for `resolve_secrets` only."""
    for doc in manifests:
        manifest = doc.manifest
        if isinstance(manifest, ConnectorManifest):
            yield from _headers_of(doc, manifest.spec, "")
        elif isinstance(manifest, ModelManifest) and manifest.spec.inline_connector:
            yield from _headers_of(doc, manifest.spec.inline_connector, "connector.")


def _headers_of(
    doc: LoadedManifest, spec: ConnectorSpec, prefix: str
) -> Iterator[tuple[LoadedManifest, str, str, str]]:
    places = [("headers", spec.headers)]
    places += [(f"actions[{i}].headers", a.headers) for i, a in enumerate(spec.actions)]
    for place, headers in places:
        for name, value in (headers or {}).items():
            if is_literal_credential(name, value):
                yield doc, f"{prefix}{place}.{name}", name, value


def resolve_secrets(
    manifests: ManifestSet,
    *,
    key: SecretKey | None,
    env: Mapping[str, str],
) -> dict[SecretPath, Secret]:
    """Resolve every reference; SecretError listing every one that failed."""
    resolved: dict[SecretPath, Secret] = {}
    problems: list[Problem] = []
    aws = _AwsSources()
    for doc, yaml_path, secret_path, ref in secret_references(manifests):
        try:
            if isinstance(ref, FromAwsRole | FromAwsProfile):
                secret = aws.secret(ref, key=doc.key, path=secret_path, where=(doc, yaml_path))
            else:
                secret = _resolve(ref, doc=doc, key=key, env=env)
            resolved[(doc.key, secret_path)] = secret
        except SecretError as exc:
            problems.append(doc.problem(str(exc), *yaml_path))
    problems += [doc.problem(message, *yaml_path) for doc, yaml_path, message in aws.untokened()]
    for doc, secret_path, name, value in literal_headers(manifests):
        # A credential written into a header is a secret by position: a plan holds a
        # marker in its place, and apply sends this value (`headers`, reference §2.7).
        resolved[(doc.key, secret_path)] = Secret(value, source=f"header {name}")
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise SecretError(f"{len(problems)} secret(s) could not be resolved:\n{lines}")
    return resolved


def check_secrets(
    manifests: ManifestSet,
    *,
    key: SecretKey | None,
    env: Mapping[str, str],
    strict: bool,
) -> list[Problem]:
    """What `resolve_secrets` would refuse, found before any cluster is asked, as Problems.

    By default a variable that is not set or a file that cannot be read is a warning
    (`osml validate` often runs where the secrets are not) and ciphertexts are left to
    the loader's format check. With `strict` (`--check-secrets`) those are errors and
    every ciphertext must decrypt with `key`. No message holds a value: a resolved
    secret is dropped as soon as it resolved.
    """
    problems: list[Problem] = []
    severity = Severity.ERROR if strict else Severity.WARNING
    for doc, yaml_path, _, ref in secret_references(manifests):
        if isinstance(ref, Encrypted) and not strict:
            continue
        if isinstance(ref, FromAwsRole | FromAwsProfile):
            # Never resolved here: an AssumeRole mints keys, and validate sends none.
            missing = sdk_missing(aws_source(ref))
            if missing is not None:
                text = missing if strict else f"{missing}; plan and apply will refuse it"
                problems.append(doc.problem(text, *yaml_path, severity=severity))
            continue
        try:
            _resolve(ref, doc=doc, key=key, env=env)
        except SecretError as exc:
            message = str(exc) if strict else f"{exc}; plan and apply will refuse it"
            problems.append(doc.problem(message, *yaml_path, severity=severity))
    return problems


def describe(ref: SecretRef | str) -> dict[str, Any]:
    """The reference itself as plain data (safe to print and to save in a plan)."""
    if isinstance(ref, str):
        return {"arn": ref}
    if isinstance(ref, FromEnv):
        return {"fromEnv": ref.from_env}
    if isinstance(ref, FromFile):
        return {"fromFile": ref.from_file}
    if isinstance(ref, FromAwsRole | FromAwsProfile):
        return ref.model_dump(by_alias=True, exclude_none=True)
    return {"encrypted": ref.encrypted}


def aws_source(ref: AwsSource) -> str:
    """An AWS source in words, the same for every key it fills (`fromAwsRole arn:...:role/x,
    session osml, 1h`); it names the source in messages and in the state's leases."""
    if isinstance(ref, FromAwsRole):
        role = ref.from_aws_role
        session = role.session_name or DEFAULT_SESSION_NAME
        return f"fromAwsRole {role.role_arn}, session {session}, {format_duration(role.seconds)}"
    profile = ref.from_aws_profile.profile
    return f"fromAwsProfile {profile}" if profile else "fromAwsProfile (the default chain)"


class _AwsSources:
    """One issuer per resource, connector and AWS source, so that the keys it fills come
    from one session."""

    def __init__(self) -> None:
        self._issuers: dict[tuple[ResourceKey, str, str], Issuer] = {}
        self._chains: dict[tuple[ResourceKey, str, str], dict[str, Secret]] = {}
        self._asked: dict[tuple[ResourceKey, str, str], set[str]] = {}
        self._where: dict[tuple[ResourceKey, str, str], tuple[LoadedManifest, YamlPath]] = {}

    def secret(
        self,
        ref: AwsSource,
        *,
        key: ResourceKey,
        path: str,
        where: tuple[LoadedManifest, YamlPath],
    ) -> Secret:
        prefix, _, part = path.rpartition(".")
        source = aws_source(ref)
        group = (key, prefix, source)
        if isinstance(ref, FromAwsProfile):
            if group not in self._chains:
                self._chains[group] = chain_keys(ref.from_aws_profile.profile, source=source)
            self._asked.setdefault(group, set()).add(part)
            self._where.setdefault(group, where)
            found = self._chains[group].get(part)
            if found is None:
                raise SecretError(
                    f"{source} gave no {part}: its keys are long-term; drop credential.{part}"
                )
            return found
        if group not in self._issuers:
            role = ref.from_aws_role
            self._issuers[group] = Issuer(
                source,
                lambda: assume_role(
                    role.role_arn, session_name=role.session_name, seconds=role.seconds,
                    source=source,
                ),
            )  # fmt: skip
        return LeasedSecret(self._issuers[group], part)

    def untokened(self) -> Iterator[tuple[LoadedManifest, YamlPath, str]]:
        """(document, YAML path of its `credential`, message) for each connector given
        temporary keys by the credential chain without their session token: AWS refuses
        such keys without it, so the connector could sign nothing."""
        for group, keys in self._chains.items():
            if "session_token" not in keys or "session_token" in self._asked.get(group, ()):
                continue
            doc, yaml_path = self._where[group]
            source = group[2]
            yield (
                doc,
                yaml_path[:-1],
                f"credential.session_token is missing: {source} gave temporary keys, which "
                "AWS accepts only with their session token; add session_token: "
                "{fromAwsProfile: ...} with the same options as the other keys",
            )


def _of_connector(
    doc: LoadedManifest, spec: ConnectorSpec, base: tuple[str, ...], prefix: str
) -> Iterator[tuple[LoadedManifest, tuple[str | int, ...], str, SecretRef | str]]:
    for name, ref in spec.credential.items():
        yield doc, (*base, "credential", name), f"{prefix}credential.{name}", ref


def _resolve(
    ref: SecretRef | str, *, doc: LoadedManifest, key: SecretKey | None, env: Mapping[str, str]
) -> Secret:
    if isinstance(ref, str):
        # A roleArn or secretArn (managed domains): written out, but sent and fingerprinted
        # like a credential, so a changed ARN shows in the plan as a credential change.
        return Secret(ref, source="ARN")
    if isinstance(ref, FromEnv):
        value = env.get(ref.from_env)
        if value is None or value == "":
            raise SecretError(f"environment variable {ref.from_env} is not set")
        if not _encodable(value):
            # os.environ keeps undecodable bytes as lone surrogates: no request can carry them.
            raise SecretError(f"environment variable {ref.from_env} is not valid UTF-8")
        return Secret(value, source=f"env {ref.from_env}")
    if isinstance(ref, FromFile):
        return _from_file(Path(doc.file).parent / ref.from_file, shown=ref.from_file)
    if not isinstance(ref, Encrypted):
        raise SecretError(f"{aws_source(ref)} is resolved with its connector's other keys")
    return _from_ciphertext(ref, key=key)


def _from_file(path: Path, *, shown: str) -> Secret:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise SecretError(f"cannot read secret file {shown}: {reason}") from exc
    value = text[:-1] if text.endswith("\n") else text
    if not value:
        raise SecretError(f"secret file {shown} is empty")
    return Secret(value, source=f"file {shown}")


def _from_ciphertext(ref: Encrypted, *, key: SecretKey | None) -> Secret:
    if key is None:
        raise SecretError(f"an encrypted value needs a key: set {KEY_ENV} or pass --key-file")
    return decrypt(ref.encrypted, key, source="encrypted value")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
