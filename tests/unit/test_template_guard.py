"""template.yml sets the checks before a deletion (PRECHECK, SAFETY_CHECK, DRY_RUN, DNS_RESOLVER,
DNS_PORT) from parameters, with what the function accepts, and leaves an empty resolver out."""
from __future__ import annotations

import pytest

from local.ros_template import parameter_values
from tests.unit.test_template_settings import REQUIRED, environment, settings, template  # noqa: F401 (a fixture)

VARIABLES = {"Precheck": "PRECHECK", "SafetyCheck": "SAFETY_CHECK", "DryRun": "DRY_RUN", "DnsResolver": "DNS_RESOLVER",
             "DnsPort": "DNS_PORT"}


def refused_by_ros(template: dict, **given) -> bool:
    return bool(parameter_values(template, {**REQUIRED, **given})[1])


def test_the_defaults_check_before_every_deletion(template):
    environ = environment(template)
    assert (environ["PRECHECK"], environ["SAFETY_CHECK"], environ["DRY_RUN"], environ["DNS_PORT"]) == (
        "on", "on", "false", "53")
    assert "DNS_RESOLVER" not in environ  # empty: the runtime's resolver, and no empty variable
    parsed = settings.Settings.from_environ(environ)
    assert (parsed.precheck, parsed.safety_check, parsed.dry_run) == (True, True, False)
    assert (parsed.dns_resolver, parsed.dns_port) == (None, 53)


def test_every_choice_is_one_the_function_reads_as_meant(template):
    for parameter, field in (("Precheck", "precheck"), ("SafetyCheck", "safety_check"), ("DryRun", "dry_run")):
        for value in template["Parameters"][parameter]["AllowedValues"]:
            parsed = settings.Settings.from_environ(environment(template, **{parameter: value}))
            assert getattr(parsed, field) is (value in ("on", "true")), (parameter, value)
        assert refused_by_ros(template, **{parameter: "maybe"})


@pytest.mark.parametrize("resolver, parsed", [("192.0.2.53", ("192.0.2.53", 53)),
                                              ("192.0.2.53:5353", ("192.0.2.53", 5353)),
                                              ("[2001:db8::53]:53", ("2001:db8::53", 53)),
                                              ("2001:db8::53", ("2001:db8::53", 53)),
                                              ("10.255.0.1:65535", ("10.255.0.1", 65535)),
                                              ("[::1]:1", ("::1", 1))])
def test_a_resolver_the_function_takes_passes_ros_and_reaches_it(template, resolver, parsed):
    assert not refused_by_ros(template, DnsResolver=resolver)
    environ = environment(template, DnsResolver=resolver)
    assert environ["DNS_RESOLVER"] == resolver
    assert settings.Settings.from_environ(environ).dns_resolver == parsed


@pytest.mark.parametrize("resolver", ["resolver.example", "resolver.example:53", "192.0.2.53/24", "dns://192.0.2.53"])
def test_a_resolver_name_is_refused_by_ros_and_by_the_function(template, resolver):
    assert refused_by_ros(template, DnsResolver=resolver)
    with pytest.raises(settings.ConfigurationError):
        settings.Settings.from_environ({**environment(template), "DNS_RESOLVER": resolver})


@pytest.mark.parametrize("resolver", ["1.2.3", "999.1.1.1", ":", "1.2.3.4:99999", "1.2.3.4:0", "[::1]:0",
                                      "01.2.3.4"])
def test_a_malformed_address_or_port_is_refused_by_ros_as_by_the_function(template, resolver):
    """Passed by ROS and refused by the function, the stack deployed and every invocation failed
    as misconfigured."""
    assert refused_by_ros(template, DnsResolver=resolver)
    with pytest.raises(settings.ConfigurationError):
        settings.Settings.from_environ({**environment(template), "DNS_RESOLVER": resolver})


def test_the_port_parameter_spans_exactly_what_the_function_accepts(template):
    definition = template["Parameters"]["DnsPort"]
    low, high = definition["MinValue"], definition["MaxValue"]
    for port in (low, high):
        assert not refused_by_ros(template, DnsPort=str(port))
        assert settings.Settings.from_environ(environment(template, DnsPort=str(port))).dns_port == port
    for port in (low - 1, high + 1):
        assert refused_by_ros(template, DnsPort=str(port))
        with pytest.raises(settings.ConfigurationError):
            settings.Settings.from_environ({**environment(template), "DNS_PORT": str(port)})


def test_each_variable_comes_from_its_parameter(template):
    function = template["Resources"]["Function"]["Properties"]["EnvironmentVariables"]
    for parameter, variable in VARIABLES.items():
        assert parameter in str(function[variable]), (parameter, function[variable])


def test_the_request_queue_and_the_watch_queue_must_differ(template):
    """The function refuses a watch message that comes from a queue other than WATCH_QUEUE: one
    queue for both would leave that rule nothing to tell apart."""
    assert refused_by_ros(template, RequestQueueName="shared-queue", WatchQueueName="shared-queue")
    assert not refused_by_ros(template, RequestQueueName="requests-q", WatchQueueName="watch-q")
    assert not refused_by_ros(template, RequestQueueName="", WatchQueueName="")
