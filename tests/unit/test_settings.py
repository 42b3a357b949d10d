"""Settings are read from the environment once and every bad value is named in one message."""
from __future__ import annotations

import pytest

from deleter.settings import ConfigurationError, Settings


def test_defaults_with_only_the_required_topic():
    settings = Settings.from_environ({"NOTIFY_TOPIC": "notices"})
    assert settings == Settings(notify_topic="notices")
    assert settings.domain_api_endpoint == "https://domain.aliyuncs.com"
    assert (settings.max_concurrency, settings.default_lang, settings.domain_api_signature) == (8, "en", "v3")


def test_every_setting_is_read():
    settings = Settings.from_environ({
        "NOTIFY_TOPIC": "n", "DOMAIN_API_ENDPOINT": "domain-intl.aliyuncs.com", "DOMAIN_API_VERSION": "2017-12-18",
        "DOMAIN_API_SIGNATURE": "v1", "MNS_ENDPOINT": "http://127.0.0.1:9100", "DEFAULT_LANG": "zh",
        "MAX_CONCURRENCY": "3", "LOG_LEVEL": "debug", "CONNECT_TIMEOUT_SECONDS": "1.5", "READ_TIMEOUT_SECONDS": "4",
    })
    assert settings == Settings("n", "domain-intl.aliyuncs.com", "2017-12-18", "v1", "http://127.0.0.1:9100", "zh",
                                3, "DEBUG", 1.5, 4.0)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({"MAX_CONCURRENCY": "many", "DEFAULT_LANG": "fr", "DOMAIN_API_VERSION": "v2",
                               "MNS_ENDPOINT": "ftp://x", "LOG_LEVEL": "LOUD", "READ_TIMEOUT_SECONDS": "0"})
    message = str(caught.value)
    for expected in ("NOTIFY_TOPIC is required", "MAX_CONCURRENCY must be an integer from 1 to 64",
                     "DEFAULT_LANG must be one of en, zh", "DOMAIN_API_VERSION must be an API version",
                     "MNS_ENDPOINT must be an http(s):// URL", "LOG_LEVEL must be one of",
                     "READ_TIMEOUT_SECONDS must be a number from 0.1 to 300"):
        assert expected in message


@pytest.mark.parametrize("name, value", [
    ("NOTIFY_TOPIC", "1starts-with-digit"), ("NOTIFY_TOPIC", "has_underscore"), ("MAX_CONCURRENCY", "0"),
    ("MAX_CONCURRENCY", "65"), ("DOMAIN_API_ENDPOINT", "https://domain.aliyuncs.com/path"),
    ("DOMAIN_API_SIGNATURE", "v2"),
])
def test_each_bad_value_is_named(name, value):
    environ = {"NOTIFY_TOPIC": "n", name: value}
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_environ(environ)


@pytest.mark.parametrize("url", ["redis://h:99999", "redis://h:abc", "redis://:S3cret@:1", "http://h:6379",
                                 "redis://h:6379/zero"])
def test_a_redis_url_the_client_cannot_use_is_a_configuration_error(url):
    # Checked with the client's own parser: a URL accepted here must never fail at first use.
    with pytest.raises(ConfigurationError, match="REDIS_URL must look like redis://") as caught:
        Settings.from_environ({"NOTIFY_TOPIC": "n", "REDIS_URL": url})
    assert "S3cret" not in str(caught.value)


def test_a_usable_redis_url_is_kept():
    assert Settings.from_environ({"NOTIFY_TOPIC": "n", "REDIS_URL": "rediss://:p%23w@tair.example:6380/2"}).redis_url \
        == "rediss://:p%23w@tair.example:6380/2"


def test_the_readme_states_every_default_the_settings_use():
    """Each numeric or literal default in README.md's configuration table is the one applied,
    and every variable the settings read is in the table."""
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for names, default in re.findall(r"^\| (`[A-Z_]+`(?: / `[A-Z_]+`)?) \| ([^|]+) \|", table, re.M):
        values = re.findall(r"`([^`]+)`", default)
        for name, value in zip(re.findall(r"`([A-Z_]+)`", names), values or [None] * 2):
            documented[name] = value
    settings = Settings.from_environ({"NOTIFY_TOPIC": "n"})
    applied = {
        "DOMAIN_API_ENDPOINT": settings.domain_api_endpoint, "DOMAIN_API_VERSION": settings.domain_api_version,
        "DOMAIN_API_SIGNATURE": settings.domain_api_signature, "DEFAULT_LANG": settings.default_lang,
        "MAX_CONCURRENCY": settings.max_concurrency, "LOG_LEVEL": settings.log_level,
        "CONNECT_TIMEOUT_SECONDS": settings.connect_timeout_seconds,
        "READ_TIMEOUT_SECONDS": settings.read_timeout_seconds, "MAX_BATCH": settings.max_batch,
        "IDEMPOTENCY_TTL_SECONDS": settings.idempotency_ttl_seconds,
        "MAX_REQUESTS_PER_SECOND": settings.max_requests_per_second,
        "DEADLINE_MARGIN_SECONDS": settings.deadline_margin_seconds,
        "RETRY_BASE_DELAY_SECONDS": settings.retry_base_delay_seconds,
        "RETRY_MAX_DELAY_SECONDS": settings.retry_max_delay_seconds,
        "RECONCILE_SETTLE_SECONDS": settings.reconcile_settle_seconds,
        "WATCH_MAX_SECONDS": settings.watch_max_seconds,
        "WATCH_FIRST_DELAY_SECONDS": settings.watch_first_delay_seconds,
    }
    for name, value in applied.items():
        stated = documented[name]
        assert (float(stated) == value) if isinstance(value, (int, float)) else (stated == value), name
    source = (Path(__file__).resolve().parents[2] / "functions/ds_record_deleter/deleter/settings.py").read_text()
    read = set(re.findall(r'reader\.\w+\("([A-Z_]+)"', source))
    assert read <= set(documented), read - set(documented)


def test_an_invalid_log_level_joins_the_one_message_instead_of_raising_at_import():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = ("import index\n"
              "from deleter.settings import Settings, ConfigurationError\n"
              "try:\n"
              "    Settings.from_environ({'NOTIFY_TOPIC': 't', 'LOG_LEVEL': 'LOUD', 'MAX_BATCH': '0'})\n"
              "except ConfigurationError as error:\n"
              "    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                            env={"PYTHONPATH": f"{root / 'functions/ds_record_deleter'}:{root}", "LOG_LEVEL": "LOUD",
                                 "POWERTOOLS_LOG_LEVEL": "LOUD"})
    assert result.returncode == 0, result.stderr
    assert "LOG_LEVEL must be one of" in result.stdout and "MAX_BATCH" in result.stdout


def test_the_webhook_secret_minimum_is_one_number_in_code_and_template():
    import yaml
    from pathlib import Path

    from deleter.settings import WEBHOOK_SECRET_MIN_LENGTH

    root = Path(__file__).resolve().parents[2]
    template = yaml.safe_load((root / "template.yml").read_text())
    assert template["Parameters"]["WebhookSecret"]["MinLength"] == WEBHOOK_SECRET_MIN_LENGTH == 32
    assert f"at least {WEBHOOK_SECRET_MIN_LENGTH} characters" in (root / "README.md").read_text()


def test_the_checks_before_a_deletion_are_on_by_default_and_switched_by_on_or_off():
    defaults = Settings.from_environ({"NOTIFY_TOPIC": "n"})
    assert (defaults.precheck, defaults.safety_check, defaults.dry_run) == (True, True, False)
    assert (defaults.dns_resolver, defaults.dns_port) == (None, 53)
    switched = Settings.from_environ({"NOTIFY_TOPIC": "n", "PRECHECK": "off", "SAFETY_CHECK": "False",
                                      "DRY_RUN": "true", "DNS_RESOLVER": "[2001:db8::53]:5353", "DNS_PORT": "5300"})
    assert (switched.precheck, switched.safety_check, switched.dry_run) == (False, False, True)
    assert (switched.dns_resolver, switched.dns_port) == (("2001:db8::53", 5353), 5300)
    assert Settings.from_environ({"NOTIFY_TOPIC": "n", "DNS_RESOLVER": "192.0.2.53"}).dns_resolver == ("192.0.2.53", 53)


def test_bad_check_settings_are_named_in_one_message():
    with pytest.raises(ConfigurationError) as error:
        Settings.from_environ({"NOTIFY_TOPIC": "n", "PRECHECK": "maybe", "SAFETY_CHECK": "disabled", "DRY_RUN": "2",
                               "DNS_RESOLVER": "resolver.example:53", "DNS_PORT": "0"})
    message = str(error.value)
    for name in ("PRECHECK", "SAFETY_CHECK", "DRY_RUN"):
        assert f"{name} must be on or off (also true/false, 1/0, yes/no)" in message
    assert "DNS_RESOLVER must be an IP address with an optional port" in message
    assert "DNS_PORT must be an integer from 1 to 65535" in message
