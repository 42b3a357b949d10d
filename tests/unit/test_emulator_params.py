"""Domain API parameters are checked as strictly as the real service documents them."""
from __future__ import annotations

import pytest

from local.emulator.domain_params import check_action, validate
from local.emulator.errors import ApiError

DELETE = "SaveSingleTaskForDeletingDSRecord"


def refusal(call) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("name", ["example.com", "EXAMPLE.com", "a.b.c.example", "xn--bcher-kva.com", "x-1.io"])
def test_good_domain_names(name):
    assert validate(DELETE, {"DomainName": name, "KeyTag": "1"})["DomainName"] == name.lower()


@pytest.mark.parametrize("name", ["example", "-a.com", "a-.com", "a..com", "a.com.", "bücher.com", "1.2.3.4",
                                  "a_b.com", "a" * 64 + ".com", ("a" * 60 + ".") * 5 + "com"])
def test_bad_domain_names(name):
    error = refusal(lambda: validate(DELETE, {"DomainName": name, "KeyTag": "1"}))
    assert (error.code, error.status) == ("InvalidParameter", 400) and "DomainName" in error.message


@pytest.mark.parametrize("key_tag, ok", [("0", True), ("65535", True), ("65536", False), ("-1", False),
                                         ("1.0", False), ("abc", False), (" 1", False)])
def test_key_tag_range(key_tag, ok):
    call = lambda: validate(DELETE, {"DomainName": "example.com", "KeyTag": key_tag})  # noqa: E731
    if ok:
        assert call()["KeyTag"] == int(key_tag)
    else:
        assert "KeyTag" in refusal(call).message


@pytest.mark.parametrize("params, missing", [({"KeyTag": "1"}, "DomainName"), ({"DomainName": "example.com"}, "KeyTag"),
                                             ({"DomainName": "example.com", "KeyTag": ""}, "KeyTag")])
def test_missing_parameters_are_named(params, missing):
    error = refusal(lambda: validate(DELETE, params))
    assert error.code == "MissingParameter"
    assert error.message == f'The input parameter "{missing}" that is mandatory for processing this request is not supplied.'


def test_lang_defaults_to_en_and_accepts_only_en_or_zh():
    assert validate(DELETE, {"DomainName": "example.com", "KeyTag": "1"})["Lang"] == "en"
    assert validate(DELETE, {"DomainName": "example.com", "KeyTag": "1", "Lang": "zh"})["Lang"] == "zh"
    assert "Lang" in refusal(lambda: validate(DELETE, {"DomainName": "example.com", "KeyTag": "1", "Lang": "de"})).message


def test_an_added_digest_must_fit_its_type():
    params = {"DomainName": "example.com", "KeyTag": "1", "Algorithm": "13", "DigestType": "2", "Digest": "ab" * 20}
    assert "Digest" in refusal(lambda: validate("SaveSingleTaskForAddingDSRecord", params)).message
    params["Digest"] = "ab" * 32
    assert validate("SaveSingleTaskForAddingDSRecord", params)["Digest"] == "AB" * 32


@pytest.mark.parametrize("action, version, code, status", [
    ("QueryDSRecordList", "2018-01-29", "InvalidApi.NotFound", 404),
    ("QueryDSRecord", "2019-01-01", "InvalidVersion", 400),
    ("", "2018-01-29", "MissingParameter", 400),
    ("QueryDSRecord", "", "MissingParameter", 400),
])
def test_actions_and_versions(action, version, code, status):
    error = refusal(lambda: check_action(action, version))
    assert (error.code, error.status) == (code, status)


def test_both_api_versions_are_served():
    check_action("QueryDSRecord", "2018-01-29")
    check_action("QueryDSRecord", "2017-12-18")
