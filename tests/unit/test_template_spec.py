"""template.yml against the ROS resource specification and the FC 3.0 API's own models, offline.

The specification comes from the pinned ROS CDK packages (tests/ros_spec.py reads their data);
the trigger configurations go through alibabacloud-fc20230330's models. Each kind of mistake the
checker looks for is shown to be caught on a copy of the template with that one mistake in it.
"""
from __future__ import annotations

import copy
from typing import Callable, Dict

import pytest
from alibabacloud_fc20230330 import models

from local.ros_template import load
from tests.ros_spec import PACKAGES, offline_context, problems, read_package, spec

# FC 3.0's model of each trigger type's configuration.
TRIGGER_CONFIG_MODELS = {"http": models.HTTPTriggerConfig, "timer": models.TimerTriggerConfig,
                         "mns_topic": models.MNSTopicTriggerConfig, "eventbridge": models.EventBridgeTriggerConfig}
REQUIRED = {"WebhookSecret": "s" * 32, "CodeBucket": "bucket"}
CUSTOM_DOMAIN = {"CustomDomainName": "ds-webhook.example.com", "CustomDomainCertificate": "-----BEGIN CERTIFICATE-----",
                 "CustomDomainPrivateKey": "-----BEGIN PRIVATE KEY-----"}


@pytest.fixture(scope="module")
def template() -> dict:
    return load()


# --- the specification as read --------------------------------------------------------------------

def test_every_resource_class_of_the_packages_is_read():
    """The reader finds as many resource types as each package's jsii assembly declares (a
    regular expression that missed some would make the checker blind to them). Data sources
    (DATASOURCE::..., the `datasource` namespace) are not resources a stack creates."""
    for package in PACKAGES:
        assembly, _ = read_package(package)
        declared = {t["name"] for t in assembly["types"].values()
                    if t.get("base") == "@alicloud/ros-cdk-core.RosResource" and "namespace" not in t}
        read = {name for name, t in spec().items() if t.package == package}
        assert len(read) == len(declared) > 0, package


def test_property_names_and_required_flags_agree_with_the_jsii_assembly():
    """The properties as the generated code renders them, and required as its validator says
    (requiredValidator), against the assembly's types (property names, not optional): two
    sources in the package, one answer."""
    for package in PACKAGES:
        assembly, _ = read_package(package)
        props = {t["name"]: t for t in assembly["types"].values() if "namespace" not in t}
        for name, resource_type in spec().items():
            if resource_type.package != package:
                continue
            # rosFunctionPropsToRosTemplate renders RosFunctionProps
            interface = props["Ros" + resource_type.shape.name[3:-len("ToRosTemplate")]]
            # The assembly names properties in camelCase (ttl), templates in PascalCase (TTL).
            optional = {p["name"].lower(): bool(p.get("optional")) for p in interface.get("properties", [])}
            assert {key.lower() for key in resource_type.shape.properties} == set(optional), name
            required = {key.lower() for key, p in resource_type.shape.properties.items() if p.required}
            assert required == {key for key, flag in optional.items() if not flag}, name


def test_the_reader_sees_what_the_specification_says():
    types = spec()
    function = types["ALIYUN::FC3::Function"].shape.properties
    assert function["Timeout"].range == (1, 86400) and function["MemorySize"].range == (128, 65536)
    assert function["Cpu"].range == (0.05, 16)
    assert {"FunctionName", "Handler", "Runtime"} == {k for k, p in function.items() if p.required}
    assert set(function["Code"].value.shape.properties) >= {"OssBucketName", "OssObjectName", "ZipFile"}
    assert types["ALIYUN::MNS::Queue"].shape.properties["VisibilityTimeout"].range == (1, 43200)
    assert types["ALIYUN::FC3::Trigger"].attributes >= {"UrlInternet", "UrlIntranet", "TriggerId"}
    assert types["ALIYUN::RAM::Role"].attributes == {"Arn", "RoleId", "RoleName"}
    assert types["ALIYUN::MNS::Topic"].attributes >= {"TopicName", "ARN.WithSlash"}
    assert types["ALIYUN::FC3::CustomDomain"].shape.properties["Protocol"].allowed == ("HTTP", "HTTPS", "HTTP,HTTPS")
    assert types["ALIYUN::SLS::Logstore"].shape.properties["LogstoreName"].pattern == "^[a-zA-Z0-9_-]+$"
    # ROS can create service-linked roles: that is how the stack makes a fresh account work.
    assert types["ALIYUN::ResourceManager::ServiceLinkedRole"].shape.properties["ServiceName"].required


# --- the template -------------------------------------------------------------------------------

def test_the_template_agrees_with_the_specification(template):
    assert problems(template) == []


def _parent(template: dict, path: str):
    """The node holding the last key of a dotted path (list indexes as numbers), and that key."""
    *parents, last = path.split(".")
    node = template
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node, int(last) if isinstance(node, list) else last


def _set(path: str, value) -> Callable[[dict], None]:
    def mutate(template: dict) -> None:
        node, key = _parent(template, path)
        node[key] = value
    return mutate


def _delete(path: str) -> Callable[[dict], None]:
    def mutate(template: dict) -> None:
        node, key = _parent(template, path)
        del node[key]
    return mutate


MISTAKES: Dict[str, tuple] = {
    "unknown property": (_set("Resources.RequestQueue.Properties.VisibilityTimeOut", 300),
                         "RequestQueue.VisibilityTimeOut: unknown property"),
    "unknown nested property": (_set("Resources.Function.Properties.Code.OssBucket", "b"),
                                "Function.Code.OssBucket: unknown property"),
    "unknown property in a list item": (_set("Resources.FunctionRole.Properties.Policies.0.Name", "p"),
                                        "FunctionRole.Policies[0].Name: unknown property"),
    "missing required property": (_delete("Resources.HttpTrigger.Properties.TriggerName"),
                                  "HttpTrigger.TriggerName: required property missing"),
    "missing required nested property": (_delete("Resources.FunctionRole.Properties.Policies.0.PolicyName"),
                                         "FunctionRole.Policies[0].PolicyName: required property missing"),
    "literal out of range": (_set("Resources.Logstore.Properties.ShardCount", 0),
                             "Logstore.ShardCount: 0 is outside 1.0..100.0"),
    "parameter range wider than the property's": (_set("Parameters.LogRetentionDays.MaxValue", 4000),
                                                  "Logstore.TTL: may be 14..4000, outside 1.0..3650.0"),
    # MinValue pinned so the expected range does not move with the template's.
    "computed value out of range": (lambda t: (_set("Parameters.Timeout.MinValue", 1)(t),
                                               _set("Parameters.Timeout.MaxValue", 86400)(t)),
                                    "RequestQueue.VisibilityTimeout: may be 61..86460, outside 1.0..43200.0"),
    "mapping row out of range": (_set("Mappings.InstanceSizes.128.Cpu", 0.01),
                                 "Function.Cpu: 0.01 is outside 0.05..16.0"),
    "value not allowed": (_set("Resources.Logstore.Properties.Mode", "fast"),
                          "Logstore.Mode: 'fast' is not one of ('standard', 'query')"),
    "value not matching the pattern": (_set("Resources.Logstore.Properties.LogstoreName", "function log"),
                                       "Logstore.LogstoreName: 'function log' does not match"),
    "wrong kind": (_set("Resources.Layer.Properties.CompatibleRuntime", "python3.10"),
                   "Layer.CompatibleRuntime: must be a list, not str"),
    "unknown resource type": (_set("Resources.Layer.Type", "ALIYUN::FC3::Layer"),
                              "Layer: unknown resource type ALIYUN::FC3::Layer"),
    "bad Fn::GetAtt attribute": (_set("Resources.Function.Properties.Role", {"Fn::GetAtt": ["FunctionRole", "ARN"]}),
                                 "ALIYUN::RAM::Role has no attribute ARN"),
    "bad Fn::GetAtt resource": (_set("Resources.Function.Properties.Role", {"Fn::GetAtt": ["Role", "Arn"]}),
                                "Fn::GetAtt ['Role', 'Arn']: Role is no resource"),
    "bad attribute in Fn::Sub": (_set("Outputs.WebhookUrl.Value", {"Fn::Sub": "${HttpTrigger.Url}"}),
                                 "Fn::Sub ${HttpTrigger.Url}: ALIYUN::FC3::Trigger has no attribute Url"),
    "Ref to nothing": (_set("Resources.Function.Properties.Timeout", {"Ref": "FunctionTimeout"}),
                       "Ref FunctionTimeout: names nothing"),
    "a resource named like a parameter": (_set("Resources.Timeout", {"Type": "ALIYUN::MNS::Topic",
                                                                      "Properties": {"TopicName": "t"}}),
                                          "Timeout: both a parameter and a resource"),
    "undefined condition": (_set("Resources.SingleInstance.Condition", "NoRedis"),
                            "SingleInstance: no condition NoRedis"),
    "default failing its own constraint": (_set("Parameters.MaxBatch.Default", 0),
                                           "parameter MaxBatch: its Default fails: MaxBatch must be at least 1"),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_the_checker_catches(template, mistake):
    mutate, expected = MISTAKES[mistake]
    broken = copy.deepcopy(template)
    mutate(broken)
    found = problems(broken)
    assert any(expected in problem for problem in found), found


# --- TriggerConfig against FC 3.0's models ------------------------------------------------------------

def trigger_configs(template: dict, given: dict) -> Dict[str, dict]:
    """Each trigger type's TriggerConfig as ROS would pass it on: intrinsics resolved (the watch
    queue's trigger, a second eventbridge one, under "eventbridge:watch")."""
    context = offline_context(template, given)
    return {r["Properties"]["TriggerType"] + (":watch" if name == "WatchTrigger" else ""):
            context.resolve(r["Properties"]["TriggerConfig"])
            for name, r in template["Resources"].items() if r["Type"] == "ALIYUN::FC3::Trigger"}


def round_trip(kind: str, config: dict) -> dict:
    return TRIGGER_CONFIG_MODELS[kind]().from_map(copy.deepcopy(config)).to_map()


@pytest.mark.parametrize("given", [REQUIRED, {**REQUIRED, **CUSTOM_DOMAIN}], ids=["defaults", "custom-domain"])
def test_every_trigger_config_round_trips_through_the_fc3_models(template, given):
    configs = trigger_configs(template, given)
    assert set(configs) == set(TRIGGER_CONFIG_MODELS) | {"eventbridge:watch"}
    for kind, config in configs.items():
        assert round_trip(kind.split(":")[0], config) == config, kind  # a key the model does not know is dropped


def test_the_round_trip_catches_a_key_fc3_does_not_know(template):
    config = trigger_configs(template, REQUIRED)["eventbridge"]
    config["runOptions"]["retryStrategy"]["MaximumRetryAttempts"] = 3  # an FC 2.0-era key
    assert round_trip("eventbridge", config) != config
