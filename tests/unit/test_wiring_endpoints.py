"""Where the function finds MNS: MNS_ENDPOINT when set, else the account's endpoint in the
function's region, built from the FC context (which is how it runs in the cloud)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from deleter.settings import ConfigurationError, Settings
from wiring import FunctionInstance

BASE = {"NOTIFY_TOPIC": "ds-record-deleter-notifications"}


def instance(**environ: str) -> FunctionInstance:
    return FunctionInstance(Settings.from_environ({**BASE, **environ}))


def test_the_endpoint_comes_from_the_context_when_mns_endpoint_is_unset():
    context = SimpleNamespace(account_id="1234567890123456", region="cn-shanghai")
    assert instance().mns_endpoint(context) == "https://1234567890123456.mns.cn-shanghai.aliyuncs.com"


def test_mns_endpoint_wins_over_the_context():
    context = SimpleNamespace(account_id="1234567890123456", region="cn-shanghai")
    assert instance(MNS_ENDPOINT="http://127.0.0.1:9100").mns_endpoint(context) == "http://127.0.0.1:9100"


@pytest.mark.parametrize("context", [SimpleNamespace(), SimpleNamespace(account_id="1234567890123456"),
                                     SimpleNamespace(account_id="", region="cn-shanghai")])
def test_neither_is_a_clear_configuration_error(context):
    with pytest.raises(ConfigurationError, match="MNS_ENDPOINT is not set and the context names no account_id"):
        instance().mns_endpoint(context)
