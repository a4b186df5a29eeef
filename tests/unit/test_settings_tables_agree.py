"""osml's settings facts (`reconciler/mlcommons/settings.py`) and the sandbox's table
(`reconciler/sandbox/ml/settings.py`) are written separately and must not share code; this
test holds them to the same releases, scopes, ranges and defaults."""

from __future__ import annotations

import pytest

from reconciler.mlcommons import settings as osml
from reconciler.mlcommons.versions import SUPPORTED, Version
from reconciler.sandbox.ml.profiles import get_profile

# Where osml deliberately says less than the server registers.
OSML_SINCE = {"metrics_static_collection_enabled": Version(3, 2)}
"""Final on 3.1, dynamic from 3.2: osml only offers it where the API can set it."""
NO_DEFAULT = {"trusted_connector_endpoints_regex", "trusted_url_regex"}


@pytest.mark.parametrize("version", SUPPORTED, ids=str)
def test_same_settings_per_release(version: Version) -> None:
    sandbox = get_profile(version.short).settings
    known = {s.key: s for s in osml.settings_for(version)}
    expected = {
        key.removeprefix(osml.PREFIX)
        for key in sandbox
        if OSML_SINCE.get(key.removeprefix(osml.PREFIX), version) <= version
    }
    assert set(known) == expected
    for key, setting in known.items():
        row = sandbox[osml.PREFIX + key]
        assert setting.scope.value == row.scope, key
        assert (setting.minimum, setting.maximum) == (row.minimum, row.maximum), key
        if key not in NO_DEFAULT:
            assert osml.default_for(setting, version=version) == row.default, key
