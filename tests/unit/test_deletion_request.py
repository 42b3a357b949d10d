"""Every validation rule of a deletion request, and the normalisation of what passes."""
from __future__ import annotations

import pytest

from deleter.deletion_request import InvalidRequest, parse_deletion_request


def parse(**fields):
    return parse_deletion_request(fields)


def rejection(raw, **kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_deletion_request(raw, **kwargs)
    return caught.value


@pytest.mark.parametrize("given, normalised", [
    ("example.com", "example.com"),
    ("Example.COM.", "example.com"),
    ("  example.com  ", "example.com"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
    ("ＥＸＡＭＰＬＥ.com", "example.com"),  # full-width letters map to ASCII (UTS #46)
    ("straße.de", "xn--strae-oqa.de"),      # IDNA 2008: ß is kept, not mapped to ss
    ("a-b.c0.example.org", "a-b.c0.example.org"),
    ("a" * 63 + ".com", "a" * 63 + ".com"),
])
def test_domain_is_normalised_to_lower_case_a_labels_without_trailing_dot(given, normalised):
    assert parse(DomainName=given, KeyTag=1).domain_name == normalised


@pytest.mark.parametrize("domain", [
    "com",                     # one label
    "",                        # empty
    ".",                       # only the root
    "a..com",                  # empty label
    "-a.com", "a-.com",        # hyphen first or last
    "ab--cd.com", "AB--CD.com",  # hyphens in 3rd and 4th places are reserved (but for xn--)
    "xn--.com",                # an A-label with nothing after the prefix
    "ex_ample.com",            # underscore is not LDH
    "exa mple.com",            # space
    "a" * 64 + ".com",         # label over 63
    ".".join(["a" * 63] * 4),  # 255 characters in all
    "xn--abc.com",             # a broken A-label
    "example.123",             # all-numeric top-level label
    "192.168.0.1",             # an address, not a name
    "example.com/path",
    "https://example.com",
])
def test_domain_that_is_not_a_registrable_name_is_rejected(domain):
    error = rejection({"DomainName": domain, "KeyTag": 1})
    assert error.code == "InvalidParameter"
    assert error.field == "DomainName"
    assert "DomainName must be a registrable domain name" in error.message


@pytest.mark.parametrize("value", [123, ["example.com"], {"a": 1}, True])
def test_domain_must_be_a_string(value):
    error = rejection({"DomainName": value, "KeyTag": 1})
    assert (error.field, error.message) == ("DomainName", "DomainName must be a string")


@pytest.mark.parametrize("key_tag", [0, 1, 12345, 65535])
def test_key_tag_in_range_is_accepted(key_tag):
    assert parse(DomainName="example.com", KeyTag=key_tag).key_tag == key_tag


@pytest.mark.parametrize("key_tag", [-1, 65536, 10 ** 20, True, False, 12.0, 1.5, "12", "", [1], {"v": 1}])
def test_key_tag_must_be_an_integer_from_0_to_65535(key_tag):
    error = rejection({"DomainName": "example.com", "KeyTag": key_tag})
    assert error.code == "InvalidParameter" and error.field == "KeyTag"
    assert "KeyTag must be an integer from 0 to 65535" in error.message


@pytest.mark.parametrize("field", ["DomainName", "KeyTag"])
def test_required_fields(field):
    raw = {"DomainName": "example.com", "KeyTag": 1}
    del raw[field]
    error = rejection(raw)
    assert (error.code, error.field, error.message) == ("MissingParameter", field, f"{field} is required")


def test_null_counts_as_missing():
    assert rejection({"DomainName": "example.com", "KeyTag": None}).code == "MissingParameter"


def test_lang_defaults_and_is_en_or_zh():
    assert parse(DomainName="example.com", KeyTag=1).lang == "en"
    assert parse_deletion_request({"DomainName": "example.com", "KeyTag": 1}, default_lang="zh").lang == "zh"
    assert parse(DomainName="example.com", KeyTag=1, Lang="zh").lang == "zh"
    for lang in ("EN", "fr", "", 1):
        error = rejection({"DomainName": "example.com", "KeyTag": 1, "Lang": lang})
        assert error.field == "Lang" and 'Lang must be "en" or "zh"' == error.message


@pytest.mark.parametrize("given, normalised", [
    ("127.0.0.1", "127.0.0.1"), ("2001:DB8::1", "2001:db8::1"), (" 10.0.0.1 ", "10.0.0.1"),
])
def test_user_client_ip_is_an_ip_address(given, normalised):
    assert parse(DomainName="example.com", KeyTag=1, UserClientIp=given).user_client_ip == normalised


@pytest.mark.parametrize("ip", ["localhost", "256.1.1.1", "1.2.3", "", 12, "::g"])
def test_user_client_ip_that_is_not_an_address_is_rejected(ip):
    error = rejection({"DomainName": "example.com", "KeyTag": 1, "UserClientIp": ip})
    assert error.field == "UserClientIp" and "IPv4 or IPv6" in error.message


@pytest.mark.parametrize("ip", ["fe80::1%eth0", "fe80::1%1", "FE80::1%25en0", "2001:db8::1%x"])
def test_a_scoped_ipv6_user_client_ip_is_rejected(ip):
    error = rejection({"DomainName": "example.com", "KeyTag": 1, "UserClientIp": ip})
    assert (error.code, error.field) == ("InvalidParameter", "UserClientIp")
    assert error.message.startswith("UserClientIp must be an IPv4 or IPv6 address, without a zone")


def test_a_scoped_fallback_address_is_dropped():
    raw = {"DomainName": "example.com", "KeyTag": 1}
    assert parse_deletion_request(raw, fallback_client_ip="fe80::1%eth0").user_client_ip is None


def test_user_client_ip_falls_back_to_the_callers_address_only_when_valid():
    raw = {"DomainName": "example.com", "KeyTag": 1}
    assert parse_deletion_request(raw, fallback_client_ip="11.11.11.11").user_client_ip == "11.11.11.11"
    assert parse_deletion_request(raw, fallback_client_ip="not-an-ip").user_client_ip is None
    given = dict(raw, UserClientIp="10.0.0.9")
    assert parse_deletion_request(given, fallback_client_ip="11.11.11.11").user_client_ip == "10.0.0.9"


@pytest.mark.parametrize("raw", [None, [], "example.com", 1, True])
def test_a_request_is_a_json_object(raw):
    error = rejection(raw)
    assert error.code == "InvalidRequest" and "JSON object" in error.message


def test_unknown_fields_are_named_and_refused():
    error = rejection({"DomainName": "example.com", "KeyTag": 1, "Keytag": 2})
    assert error.code == "UnknownParameter" and error.field == "Keytag"
    assert "Keytag is not a field of a deletion request" in error.message


def test_plain_ascii_names_give_what_idna_gives():
    import idna
    for name in ("Example.COM", "a-b.c0.example.org", "x.y.z.example.net", "123.example"):
        assert parse(DomainName=name, KeyTag=1).domain_name == idna.encode(name, uts46=True).decode()


def test_error_messages_echo_little_of_hostile_input():
    error = rejection({"DomainName": "x" * 10000 + ".com", "KeyTag": 1})
    assert len(error.message) < 400


def test_the_switches_default_to_false_and_take_json_booleans():
    plain = parse_deletion_request({"DomainName": "example.com", "KeyTag": 1})
    assert (plain.dry_run, plain.force, plain.allow_insecure) == (False, False, False)
    switched = parse_deletion_request({"DomainName": "example.com", "KeyTag": 1, "DryRun": True, "Force": True,
                                       "AllowInsecure": True})
    assert (switched.dry_run, switched.force, switched.allow_insecure) == (True, True, True)
    nulls = parse_deletion_request({"DomainName": "example.com", "KeyTag": 1, "DryRun": None, "Force": None})
    assert (nulls.dry_run, nulls.force) == (False, False)


@pytest.mark.parametrize("field", ["DryRun", "Force", "AllowInsecure"])
@pytest.mark.parametrize("value", ["true", "false", 1, 0, 1.0, "", [], {}])
def test_a_switch_is_a_json_boolean_or_refused_naming_the_field(field, value):
    with pytest.raises(InvalidRequest) as refused:
        parse_deletion_request({"DomainName": "example.com", "KeyTag": 1, field: value})
    assert (refused.value.code, refused.value.field) == ("InvalidParameter", field)
    assert refused.value.message == f"{field} must be true or false (a JSON boolean, not a string or a number)"
