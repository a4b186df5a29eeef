"""osml's version facts (`reconciler/mlcommons/versions.py`) and the sandbox's profiles
(`reconciler/sandbox/ml/profiles.py`) are written separately; this test holds every gate
both of them model to the same release, for every release 2.9-3.8."""

from __future__ import annotations

import pytest

from reconciler.mlcommons.defaults import client_config_defaults
from reconciler.mlcommons.endpoints import default_trusted_endpoints
from reconciler.mlcommons.versions import SUPPORTED, Version, capabilities
from reconciler.sandbox.ml.profiles import get_profile

# osml capability -> sandbox profile field, for the gates both sides model.
PAIRS = {
    "update_model": "update_model",
    "get_model_group": "get_model_group",
    "register_returns_model_id": "sync_register",
    "deploy_sync_response": "sync_deploy",
    "safe_text_names": "safe_text",
    "credential_required": "credential_required",
    "private_ip_setting": "private_ip_setting",
    "search_missing_index_empty": "search_missing_index_empty",
    "groups_auto_deleted": "group_auto_delete",
    "reuse_same_named_group": "group_reuse_by_name",
    "auto_deploy_on_predict": "auto_deploy_on_predict",
    "trusted_regex_checked_at_predict": "trusted_check_at_predict",
    "trusted_error_echoes_url": "trusted_message_has_url",
    "parameters_any_json": "parameters_any_json",
    "parameters_merged_on_update": "parameters_merge_on_update",
    "connector_timestamps": "connector_timestamps",
    "named_actions": "action_names",
    "structured_output": "structured_output",
    "header_parameter_placeholders": "header_parameters",
    "provisioned_by": "provisioned_by",
    "text_embedding_config_checked": "embedding_config_check",
    "model_enable_and_rate_limit": "model_enable_fields",
    "deploy_setting": "deploy_setting",
    "model_interface": "model_interface",
    "status_codes_4xx": "modern_status_codes",
    "model_group_delete_conflict": "group_delete_conflict",
    "force_undeploy_state": "force_undeploy",
    "client_config_timeouts_in_seconds": "connector_timeouts_in_seconds",
}


@pytest.mark.parametrize("version", SUPPORTED, ids=str)
def test_gates_agree(version: Version) -> None:
    caps = capabilities(version)
    profile = get_profile(version.short)
    for capability, field in PAIRS.items():
        assert getattr(caps, capability) == getattr(profile, field), (capability, field)
    assert caps.update_connector == (profile.update_connector == "always")
    assert caps.update_connector_behind_flag == (profile.update_connector == "flag")
    assert caps.protocols == set(profile.protocols)
    assert caps.action_types == set(profile.action_types)
    assert caps.http_methods == set(profile.http_methods)


@pytest.mark.parametrize("version", SUPPORTED, ids=str)
def test_defaults_agree(version: Version) -> None:
    profile = get_profile(version.short)
    assert client_config_defaults(version) == dict(profile.client_config_defaults)
    assert list(default_trusted_endpoints(version)) == list(profile.trusted_endpoints)
