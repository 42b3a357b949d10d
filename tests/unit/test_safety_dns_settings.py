"""DNS_RESOLVER and DNS_PORT as cloud.dns parses them (for the settings that will read them)."""
from __future__ import annotations

import pytest

from cloud.dns import parse_port, parse_resolver


@pytest.mark.parametrize("text, parsed", [
    ("127.0.0.1", ("127.0.0.1", 53)),
    (" 127.0.53.53:5353 ", ("127.0.53.53", 5353)),
    ("2001:db8::53", ("2001:db8::53", 53)),
    ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
    ("[::1]", ("::1", 53)),
])
def test_a_resolver_is_an_address_with_an_optional_port(text, parsed):
    assert parse_resolver(text) == parsed


@pytest.mark.parametrize("text", ["resolver.example:53", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
                                  "[::1]53", "", "1.2.3.4:53:53"])
def test_anything_else_is_refused_with_a_reason(text):
    with pytest.raises(ValueError):
        parse_resolver(text)


def test_a_port_is_1_to_65535():
    assert parse_port("53") == 53
    for text in ("0", "65536", "-1", "5x"):
        with pytest.raises(ValueError):
            parse_port(text)
