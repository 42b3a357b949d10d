"""Credentials come from the FC context (python3.10), else the environment; never shown."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from cloud.credentials import Credentials, CredentialsError, credentials_from

ENV = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
       "ALIBABA_CLOUD_SECURITY_TOKEN": "env-token"}


def test_context_credentials_win_over_the_environment():
    context = SimpleNamespace(credentials=SimpleNamespace(access_key_id="ctx-id", access_key_secret="ctx-secret",
                                                          security_token="ctx-token"))
    assert credentials_from(context, ENV) == Credentials("ctx-id", "ctx-secret", "ctx-token")


def test_context_credentials_may_be_a_mapping():
    context = SimpleNamespace(credentials={"access_key_id": "a", "access_key_secret": "b", "security_token": ""})
    assert credentials_from(context, {}) == Credentials("a", "b", None)


def test_environment_when_the_context_has_none_as_on_python_3_12():
    assert credentials_from(SimpleNamespace(), ENV) == Credentials("env-id", "env-secret", "env-token")
    plain = {k: v for k, v in ENV.items() if "TOKEN" not in k}
    assert credentials_from(SimpleNamespace(credentials=None), plain).security_token is None


@pytest.mark.parametrize("environ, missing", [({}, "AccessKeyId"),
                                               ({"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"}, "AccessKeySecret")])
def test_missing_credentials_are_a_clear_configuration_error(environ, missing):
    with pytest.raises(CredentialsError, match=f"No {missing} in the environment"):
        credentials_from(SimpleNamespace(), environ)


def test_secrets_are_not_in_the_repr():
    shown = repr(Credentials("id", "the-secret", "the-token"))
    assert "id" in shown and "the-secret" not in shown and "the-token" not in shown
