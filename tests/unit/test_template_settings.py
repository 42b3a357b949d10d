"""template.yml's settings agree with each other, with FC 3.0's rules and with what the function
accepts; a fresh account deploys; two stacks do not collide.

The function's environment is resolved from the template with given parameter values
(local/ros_template.py) and judged by the function's own settings reader, so a parameter range
the code refuses fails here.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from local.ros_template import load, parameter_values
from tests.ros_spec import offline_context, spec
from tests.unit.test_template import LONGEST_REGION

settings = pytest.importorskip("deleter.settings")
REQUIRED = {"WebhookSecret": "s" * 32, "CodeBucket": "bucket"}
QUEUE_EVENT = Path(__file__).resolve().parents[1] / "events" / "mns_queue_eventbridge.json"
# FC 3.0 invocation payload limits: 32 MB synchronous, 128 KB asynchronous (decimal, the
# smaller reading of "MB" and "KB").
SYNC_PAYLOAD_LIMIT = 32_000_000
ASYNC_PAYLOAD_LIMIT = 128_000
# RAM: role names 1..64 of letters, digits, '.', '-'; policy names 1..128 of letters, digits, '-'.
RAM_ROLE_NAME = re.compile(r"[A-Za-z0-9.-]{1,64}")
RAM_POLICY_NAME = re.compile(r"[A-Za-z0-9-]{1,128}")


@pytest.fixture(scope="module")
def template() -> dict:
    return load()


def environment(template: dict, **given) -> dict:
    context = offline_context(template, {**REQUIRED, **given})
    return context.resolve(template["Resources"]["Function"]["Properties"]["EnvironmentVariables"])


def accepted(template: dict, **given) -> bool:
    try:
        settings.Settings.from_environ(environment(template, **given))
    except settings.ConfigurationError:
        return False
    return True


# --- the tunables are parameters, with the ranges the code accepts --------------------------------

@pytest.mark.parametrize("parameter, variable", [("MaxBatch", "MAX_BATCH"), ("MaxConcurrency", "MAX_CONCURRENCY"),
                                                 ("MaxRequestsPerSecond", "MAX_REQUESTS_PER_SECOND"),
                                                 ("WatchMaxSeconds", "WATCH_MAX_SECONDS")])
def test_a_number_parameter_spans_exactly_what_the_function_accepts(template, parameter, variable):
    definition = template["Parameters"][parameter]
    low, high = definition["MinValue"], definition["MaxValue"]
    assert not parameter_values(template, {**REQUIRED, parameter: str(low)})[1]
    assert accepted(template, **{parameter: str(low)}) and accepted(template, **{parameter: str(high)})
    # One step outside the range the code refuses too: the template is not narrower than the code...
    assert environment(template, **{parameter: str(high)})[variable] == str(high)
    outside = {variable: str(high + 1)}
    with pytest.raises(settings.ConfigurationError):
        settings.Settings.from_environ({**environment(template), **outside})
    with pytest.raises(settings.ConfigurationError):
        settings.Settings.from_environ({**environment(template), variable: str(low - 1)})
    # ...and ROS refuses what the code would.
    assert parameter_values(template, {**REQUIRED, parameter: str(high + 1)})[1]


def test_the_choices_are_the_codes(template):
    from cloud.domain_api import SIGNATURE_VERSIONS
    from deleter.deletion_request import LANGS

    assert template["Parameters"]["DomainApiSignature"]["AllowedValues"] == list(SIGNATURE_VERSIONS)
    assert template["Parameters"]["DefaultLang"]["AllowedValues"] == list(LANGS)
    for lang in LANGS:
        for signature in SIGNATURE_VERSIONS:
            parsed = settings.Settings.from_environ(environment(template, DefaultLang=lang, DomainApiSignature=signature))
            assert (parsed.default_lang, parsed.domain_api_signature) == (lang, signature)


def test_empty_optional_values_are_not_passed_at_all(template):
    defaults = environment(template)
    assert "ALLOWED_DOMAINS" not in defaults and "REDIS_URL" not in defaults
    assert all(value != "" for value in defaults.values())
    given = environment(template, AllowedDomains="example.com,*.example.net", RedisUrl="rediss://:pw@redis.internal:6379/0")
    assert given["ALLOWED_DOMAINS"] == "example.com,*.example.net"
    assert given["REDIS_URL"] == "rediss://:pw@redis.internal:6379/0"
    assert settings.Settings.from_environ(given).allowed_domains == ("example.com", "*.example.net")


def test_the_webhook_secret_is_at_least_32_characters(template):
    assert template["Parameters"]["WebhookSecret"]["MinLength"] == 32
    assert any("WebhookSecret" in p for p in parameter_values(template, {**REQUIRED, "WebhookSecret": "s" * 31})[1])
    assert settings.Settings.from_environ(environment(template)).webhook_secret == "s" * 32


# --- FC 3.0's memory and vCPU rules, enforced -------------------------------------------------------

def test_every_allowed_memory_size_has_a_valid_vcpu(template):
    sizes = template["Mappings"]["InstanceSizes"]
    assert template["Parameters"]["MemorySize"]["AllowedValues"] == list(sizes)
    for key, row in sizes.items():
        memory, cpu = row["MemorySize"], row["Cpu"]
        assert str(memory) == key and memory % 64 == 0 and 128 <= memory <= 32768, key
        assert math.isclose(round(cpu / 0.05) * 0.05, cpu) and 0.05 <= cpu <= 16, key
        assert 1 <= (memory / 1024) / cpu <= 4, f"{key}: vCPU : GB must be 1:1..1:4"


def test_a_memory_size_outside_the_table_is_refused(template):
    for wrong in ("100", "192", "65536"):
        assert any("MemorySize" in p for p in parameter_values(template, {**REQUIRED, "MemorySize": wrong})[1])
    context = offline_context(template, {**REQUIRED, "MemorySize": "512"})
    function = template["Resources"]["Function"]["Properties"]
    assert (context.resolve(function["MemorySize"]), context.resolve(function["Cpu"])) == (512, 0.35)


# --- the queue: visibility follows the timeout; the batch fits a synchronous invocation ---------------

def test_the_queues_visibility_timeout_follows_the_function_timeout(template):
    timeout = template["Parameters"]["Timeout"]
    window = template["Resources"]["QueueTrigger"]["Properties"]["TriggerConfig"]["runOptions"]["batchWindow"]
    low, high = spec()["ALIYUN::MNS::Queue"].shape.properties["VisibilityTimeout"].range
    for value in (timeout["MinValue"], timeout["Default"], timeout["MaxValue"]):
        context = offline_context(template, {**REQUIRED, "Timeout": str(value)})
        for queue in ("RequestQueue", "WatchQueue"):
            visibility = context.resolve(template["Resources"][queue]["Properties"]["VisibilityTimeout"])
            assert visibility >= value + window["TimeBasedWindow"], (queue, value)
            assert low <= visibility <= high, (queue, value)


def test_the_queue_trigger_is_synchronous_and_its_batch_fits_the_payload_limit(template):
    """The largest batch EventBridge may deliver: CountBasedWindow events, each carrying a
    message of the queue's MaximumMessageSize made of bytes JSON escapes at 6 bytes each."""
    config = template["Resources"]["QueueTrigger"]["Properties"]["TriggerConfig"]
    assert config["asyncInvocationType"] is True  # FC 3.0: true is synchronous
    count = config["runOptions"]["batchWindow"]["CountBasedWindow"]
    largest = template["Resources"]["RequestQueue"]["Properties"]["MaximumMessageSize"]
    assert largest == 65536
    [sample, _] = json.loads(QUEUE_EVENT.read_text())
    event = {**sample, "data": {**sample["data"], "messageBody": "\x01" * largest}}
    batch = json.dumps([event] * count).encode()
    assert len(batch) <= SYNC_PAYLOAD_LIMIT
    assert len(json.dumps([event]).encode()) > ASYNC_PAYLOAD_LIMIT  # why not asynchronous


# --- a fresh account; two stacks ---------------------------------------------------------------------

def test_the_service_linked_roles_are_created_only_when_asked_and_kept(template):
    resources = template["Resources"]
    roles = {name: r for name, r in resources.items() if r["Type"] == "ALIYUN::ResourceManager::ServiceLinkedRole"}
    assert {r["Properties"]["ServiceName"] for r in roles.values()} == {
        "fc.aliyuncs.com", "sendevent-fc.eventbridge.aliyuncs.com"}
    assert all(r["DeletionPolicy"] == "Retain" for r in roles.values())
    defaults = offline_context(template, REQUIRED).conditions()
    assert not defaults["CreateFcServiceLinkedRole"] and not defaults["CreateEventBridgeServiceLinkedRole"]
    both = offline_context(template, {**REQUIRED, "FcServiceLinkedRole": "create",
                                      "EventBridgeServiceLinkedRole": "create"})
    assert all(both.condition(r["Condition"]) for r in roles.values())
    # What needs a role waits for it when the stack creates it.
    assert "<FcLinkedRole>" in both.resolve(resources["Function"]["Properties"]["Description"])
    assert "<EventBridgeLinkedRole>" in both.resolve(resources["QueueTrigger"]["Properties"]["Description"])


def test_account_wide_names_carry_the_function_name_and_region_and_fit(template):
    longest = "F" + "f" * 37  # the longest name the parameter allows
    assert re.fullmatch(template["Parameters"]["FunctionName"]["AllowedPattern"], longest)
    context = offline_context(template, {**REQUIRED, "FunctionName": longest}, region=LONGEST_REGION)
    for name in ("FunctionRole", "MnsInvokeRole"):
        properties = template["Resources"][name]["Properties"]
        role = context.resolve(properties["RoleName"])
        assert RAM_ROLE_NAME.fullmatch(role) and longest in role and LONGEST_REGION in role, role
        for policy in properties["Policies"]:
            policy_name = context.resolve(policy["PolicyName"])
            assert RAM_POLICY_NAME.fullmatch(policy_name) and LONGEST_REGION in policy_name, policy_name
    with pytest.raises(AssertionError):  # one character more is refused by the parameter
        offline_context(template, {**REQUIRED, "FunctionName": longest + "f"})


def test_two_stacks_with_different_function_names_share_no_named_resource(template):
    named = {"FunctionRole": "RoleName", "MnsInvokeRole": "RoleName", "NotifyTopic": "TopicName",
             "RequestTopic": "TopicName", "RequestQueue": "QueueName", "WatchQueue": "QueueName", "Layer": "LayerName"}
    first, second = (offline_context(template, {**REQUIRED, "FunctionName": name}) for name in ("dsrd-a", "dsrd-b"))
    for resource, key in named.items():
        properties = template["Resources"][resource]["Properties"]
        assert first.resolve(properties[key]) != second.resolve(properties[key]), resource
    policies = [first.resolve(p["PolicyName"]) for r in ("FunctionRole", "MnsInvokeRole")
                for p in template["Resources"][r]["Properties"]["Policies"]]
    assert len(set(policies)) == 2


# --- the webhook behind a custom domain -------------------------------------------------------------

def test_a_custom_domain_needs_a_certificate_and_switches_the_test_url_off(template):
    given = {**REQUIRED, "CustomDomainName": "ds-webhook.example.com"}
    assert any("CustomDomainCertificate" in p for p in parameter_values(template, given)[1])
    given.update(CustomDomainCertificate="-----BEGIN CERTIFICATE-----", CustomDomainPrivateKey="-----BEGIN PRIVATE KEY-----")
    context = offline_context(template, given)
    domain = template["Resources"]["CustomDomain"]
    assert context.condition(domain["Condition"])
    routes = context.resolve(domain["Properties"]["RouteConfig"])["Routes"]
    assert routes == [{"Path": "/*", "FunctionName": "ds-record-deleter", "Qualifier": "LATEST",
                       "Methods": ["GET", "POST"]}]
    assert context.resolve(domain["Properties"]["Protocol"]) == "HTTPS"
    http = template["Resources"]["HttpTrigger"]["Properties"]["TriggerConfig"]
    assert context.resolve(http)["disableURLInternet"] is True
    assert offline_context(template, REQUIRED).resolve(http)["disableURLInternet"] is False
    assert context.resolve(template["Outputs"]["WebhookUrl"]["Value"]) == "https://ds-webhook.example.com/"
