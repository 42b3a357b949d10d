"""template.yml describes everything the function needs, wired together and least-privileged.

The template is plain YAML (long-form intrinsics only), so it is read with yaml.safe_load: a
`!Ref` short tag would already fail here.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest
import yaml

from local.ros_template import parameter_values
from tests.ros_spec import offline_context

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yml"
FUNCTION_DIR = Path(__file__).resolve().parents[2] / "functions" / "ds_record_deleter"

# The longest region id there is (the finance and gov regions run longest); names built from a
# region must fit with it.
LONGEST_REGION = "cn-shanghai-finance-1"
# Every variable the function reads (deleter/settings.py and the triggers).
FUNCTION_ENVIRONMENT = {
    "NOTIFY_TOPIC", "DOMAIN_API_ENDPOINT", "DOMAIN_API_VERSION", "DOMAIN_API_SIGNATURE", "MNS_ENDPOINT",
    "DEFAULT_LANG", "MAX_CONCURRENCY", "MAX_BATCH", "MAX_REQUESTS_PER_SECOND", "WEBHOOK_SECRET",
    "ALLOWED_DOMAINS", "REDIS_URL", "LOG_LEVEL", "WATCH_QUEUE", "WATCH_MAX_SECONDS",
}
# API action -> the RAM action that authorises it. The role must grant exactly the RAM actions of
# the API actions the code calls (derived from the code below), nothing more. A call the code
# gains without an entry here fails the tests: look its RAM action up in the API reference's
# authorisation table (a Forbidden.RAM answer names it in AccessDeniedDetail.AuthAction), add it
# here and to the template's policy.
DOMAIN_RAM_ACTIONS = {
    "QueryDSRecord": "domain:QueryDSRecord",
    "QueryTaskDetailList": "domain:QueryDomainTask",
    "QueryTaskList": "domain:QueryDomainTask",  # the QueryTaskList reference names it
    # UNVERIFIED: documented for the sibling SaveSingleTaskForModifyingDSRecord, not for this call.
    "SaveSingleTaskForDeletingDSRecord": "domain:DnsSecSetting",
}
MNS_RAM_ACTIONS = {
    "PublishMessage": "mns:PublishMessage",
    "SendMessage": "mns:SendMessage",
    "ReceiveMessage": "mns:ReceiveMessage",
    "DeleteMessage": "mns:DeleteMessage",
}
# Not a call of the code: FC writing the function's stdout/stderr to its logstore.
LOGGING_ACTIONS = {"log:PostLogStoreLogs"}
NOTIFY_MESSAGES_ARN = "acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/topics/${NotifyTopic.TopicName}/messages"
WATCH_MESSAGES_ARN = "acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/queues/${WatchQueue.QueueName}/messages"
LOGSTORE_ARN = ("acs:log:${ALIYUN::Region}:${ALIYUN::AccountId}:project/${LogProject.Name}"
                "/logstore/${Logstore.LogstoreName}")


@pytest.fixture(scope="module")
def template() -> Dict[str, Any]:
    return yaml.safe_load(TEMPLATE_PATH.read_text(encoding="utf-8"))


def resources_of(template: dict, type_name: str) -> Dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == type_name}


def only(template: dict, type_name: str) -> dict:
    found = resources_of(template, type_name)
    assert len(found) == 1, f"expected one {type_name}, found {sorted(found)}"
    return next(iter(found.values()))["Properties"]


def triggers(template: dict) -> Dict[str, dict]:
    """Trigger type -> properties of the triggers that carry requests; each type must appear once.
    The watch queue's trigger (a second eventbridge trigger, for the checks) is tested on its own."""
    found: Dict[str, dict] = {}
    for name, resource in resources_of(template, "ALIYUN::FC3::Trigger").items():
        if name == "WatchTrigger":
            continue
        kind = resource["Properties"]["TriggerType"]
        assert kind not in found, f"two {kind} triggers"
        found[kind] = resource["Properties"]
    return found


def policy_statements(role: dict) -> List[dict]:
    return [statement for policy in role["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- what the function's code calls, read from the code ------------------------------------------

def function_modules(*, besides: Path) -> Dict[Path, ast.Module]:
    """Every module of the deployed function except `besides` (the client that defines the calls)."""
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(FUNCTION_DIR.rglob("*.py"))
            if path != besides and "__pycache__" not in path.parts}


def client_methods(path: Path, class_name: str) -> Dict[str, ast.FunctionDef]:
    module = ast.parse(path.read_text(encoding="utf-8"))
    [cls] = [node for node in module.body if isinstance(node, ast.ClassDef) and node.name == class_name]
    return {node.name: node for node in cls.body if isinstance(node, ast.FunctionDef)}


def actions_sent_by(method: ast.FunctionDef, sender: str, position: int) -> Set[str]:
    """The API action of each `self.<sender>(...)` call in method: its argument at `position`, a
    string literal or a local name bound to one. Anything else fails: a call not understood must not
    be skipped."""
    literals = {target.id: node.value.value for node in ast.walk(method) if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                for target in node.targets if isinstance(target, ast.Name)}
    actions = set()
    for node in ast.walk(method):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == sender
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
            argument = node.args[position]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                actions.add(argument.value)
            elif isinstance(argument, ast.Name) and argument.id in literals:
                actions.add(literals[argument.id])
            else:
                raise AssertionError(f"{method.name}: cannot tell which action self.{sender}() sends")
    return actions


def domain_api_actions() -> Set[str]:
    """The Domain API actions the function calls: `self.call("<Action>", ...)` in each method of
    cloud/domain_api.py's DomainApiClient that the rest of the function calls. The method names are
    distinctive (query_task_list, save_deleting_ds_task, ...), so a call of one by any name counts
    (deleter/reconcile.py calls them through the rate limiter's wrapper)."""
    path = FUNCTION_DIR / "cloud" / "domain_api.py"
    methods = client_methods(path, "DomainApiClient")
    called = {node.func.attr for module in function_modules(besides=path).values() for node in ast.walk(module)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    return {action for name, method in methods.items() if name in called
            for action in actions_sent_by(method, "call", 0)}


def mns_actions() -> Set[str]:
    """The MNS actions the function sends: `self._call(verb, path, "<Action>", ...)` in each method of
    cloud/mns.py's MnsClient that the rest of the function uses (called or handed on, as wiring.py
    hands `mns.publish` to the Notifier). publish/send are common names, so only attributes of a
    name bound to `MnsClient(...)` count."""
    path = FUNCTION_DIR / "cloud" / "mns.py"
    methods = client_methods(path, "MnsClient")
    used = set()
    for module in function_modules(besides=path).values():
        clients = {target.id for node in ast.walk(module) if isinstance(node, ast.Assign)
                   and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                   and node.value.func.id == "MnsClient"
                   for target in node.targets if isinstance(target, ast.Name)}
        used |= {node.attr for node in ast.walk(module) if isinstance(node, ast.Attribute)
                 and isinstance(node.value, ast.Name) and node.value.id in clients}
    unknown = used - methods.keys()
    assert not unknown, f"MnsClient has no {sorted(unknown)}"
    return {action for name in used for action in actions_sent_by(methods[name], "_call", 2)}


def ram_actions_for(actions: Set[str], table: Dict[str, str], service: str) -> Set[str]:
    missing = actions - table.keys()
    assert not missing, f"the code calls {service} {sorted(missing)}: add their RAM actions to the table and the template"
    return {table[action] for action in actions}


def runtime_ram_actions() -> Set[str]:
    return (ram_actions_for(domain_api_actions(), DOMAIN_RAM_ACTIONS, "Domain API")
            | ram_actions_for(mns_actions(), MNS_RAM_ACTIONS, "MNS") | LOGGING_ACTIONS)


def test_format_version(template):
    assert template["ROSTemplateFormatVersion"] == "2015-09-01"
    assert "Transform" not in template  # the Funcraft transform rejects python3.9+


def test_runtime_handler_and_initializer(template):
    function = only(template, "ALIYUN::FC3::Function")
    assert function["Runtime"] == "python3.10"
    assert function["Handler"] == "index.handler"
    assert function["InstanceLifecycleConfig"]["Initializer"]["Handler"] == "index.initialize"
    assert function["FunctionName"] == {"Ref": "FunctionName"}
    assert function["Timeout"] == {"Ref": "Timeout"}
    for key in ("MemorySize", "Cpu"):  # one row of InstanceSizes for both
        assert function[key] == {"Fn::FindInMap": ["InstanceSizes", {"Ref": "MemorySize"}, key]}


def test_function_uses_the_layer_and_the_role(template):
    function = only(template, "ALIYUN::FC3::Function")
    assert function["Layers"] == [{"Fn::GetAtt": ["Layer", "LayerVersionArn"]}]
    assert template["Resources"]["Layer"]["Type"] == "ALIYUN::FC3::LayerVersion"
    assert template["Resources"]["Layer"]["Properties"]["CompatibleRuntime"] == ["python3.10"]
    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    trust = template["Resources"]["FunctionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["Service"] for s in trust] == [["fc.aliyuncs.com"]]


def test_code_and_layer_come_from_the_built_zips_on_oss(template):
    function = only(template, "ALIYUN::FC3::Function")
    layer = only(template, "ALIYUN::FC3::LayerVersion")
    assert function["Code"] == {"OssBucketName": {"Ref": "CodeBucket"}, "OssObjectName": {"Ref": "FunctionCodeObject"}}
    assert layer["Code"] == {"OssBucketName": {"Ref": "CodeBucket"}, "OssObjectName": {"Ref": "LayerCodeObject"}}
    parameters = template["Parameters"]
    assert parameters["FunctionCodeObject"]["Default"].endswith("function.zip")
    assert parameters["LayerCodeObject"]["Default"].endswith("layer.zip")


def test_every_variable_the_function_reads_is_set(template):
    environment = only(template, "ALIYUN::FC3::Function")["EnvironmentVariables"]
    missing = FUNCTION_ENVIRONMENT - environment.keys()
    assert not missing, f"not set: {sorted(missing)}"
    assert all(environment[name] is not None for name in FUNCTION_ENVIRONMENT)
    assert environment["LOG_LEVEL"] == "INFO"
    assert environment["NOTIFY_TOPIC"] == {"Fn::GetAtt": ["NotifyTopic", "TopicName"]}
    assert environment["DOMAIN_API_ENDPOINT"] == {"Fn::Sub": "https://${DomainApiEndpoint}"}
    assert environment["DOMAIN_API_VERSION"] == {"Ref": "DomainApiVersion"}
    assert environment["MNS_ENDPOINT"] == {"Fn::Sub": "https://${ALIYUN::AccountId}.mns.${ALIYUN::Region}.aliyuncs.com"}
    assert environment["WEBHOOK_SECRET"] == {"Ref": "WebhookSecret"}
    assert environment["DOMAIN_API_SIGNATURE"] == {"Ref": "DomainApiSignature"}
    assert environment["DEFAULT_LANG"] == {"Ref": "DefaultLang"}
    assert environment["MAX_BATCH"] == {"Fn::Sub": "${MaxBatch}"}
    assert environment["MAX_REQUESTS_PER_SECOND"] == {"Fn::Sub": "${MaxRequestsPerSecond}"}
    # Empty optional values are left out, not passed as empty variables.
    assert environment["ALLOWED_DOMAINS"] == {"Fn::If": ["HasAllowedDomains", {"Ref": "AllowedDomains"},
                                                         {"Ref": "ALIYUN::NoValue"}]}
    assert environment["REDIS_URL"] == {"Fn::If": ["InMemoryStore", {"Ref": "ALIYUN::NoValue"}, {"Ref": "RedisUrl"}]}
    assert environment["WATCH_QUEUE"] == {"Fn::GetAtt": ["WatchQueue", "QueueName"]}
    assert environment["WATCH_MAX_SECONDS"] == {"Fn::Sub": "${WatchMaxSeconds}"}


def test_the_function_accepts_the_environment_the_defaults_produce(template):
    """Resolve the environment with every parameter at its default, then let the function's own
    settings reader judge it: a malformed endpoint or an out-of-range number fails here."""
    settings = pytest.importorskip("deleter.settings")
    context = offline_context(template, {"WebhookSecret": "s" * 32, "CodeBucket": "bucket"})
    environment = context.resolve(only(template, "ALIYUN::FC3::Function")["EnvironmentVariables"])
    assert "ALLOWED_DOMAINS" not in environment and "REDIS_URL" not in environment
    parsed = settings.Settings.from_environ(environment)
    assert parsed.notify_topic == "ds-record-deleter-notifications"
    assert parsed.domain_api_endpoint == "https://domain.aliyuncs.com"
    assert parsed.mns_endpoint == "https://1234567890123456.mns.cn-hangzhou.aliyuncs.com"
    assert parsed.max_concurrency == 8 and parsed.max_batch == 100 and parsed.max_requests_per_second == 20
    assert (parsed.default_lang, parsed.domain_api_signature) == ("en", "v3")
    assert (parsed.watch_queue, parsed.watch_max_seconds) == ("ds-record-deleter-watch", 86400)  # watching is on


def test_the_four_trigger_types_exist_on_this_function(template):
    found = triggers(template)
    assert set(found) == {"http", "timer", "eventbridge", "mns_topic"}
    for properties in found.values():
        assert properties["FunctionName"] == {"Fn::GetAtt": ["Function", "FunctionName"]}
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,127}", properties["TriggerName"])


def test_http_trigger_is_anonymous_post_and_get_only(template):
    config = triggers(template)["http"]["TriggerConfig"]
    assert config["authType"] == "anonymous"  # the function checks its own HMAC signature
    assert config["methods"] == ["GET", "POST"]  # GET: /tasks/<TaskNo>, signed like a POST


def test_timer_trigger_is_configurable_and_off_by_default(template):
    config = triggers(template)["timer"]["TriggerConfig"]
    assert config == {"cronExpression": {"Ref": "TimerCron"}, "enable": {"Ref": "TimerEnabled"},
                      "payload": {"Ref": "TimerPayload"}}
    parameters = template["Parameters"]
    assert len(parameters["TimerCron"]["Default"].split()) == 6  # seconds first
    assert re.fullmatch(parameters["TimerCron"]["AllowedPattern"], parameters["TimerCron"]["Default"])
    assert parameters["TimerEnabled"]["Default"] is False
    payload = json.loads(parameters["TimerPayload"]["Default"])
    assert isinstance(payload, dict) and payload["DomainName"] and isinstance(payload["KeyTag"], int)


def test_queue_trigger_streams_batches_and_decodes_explicitly(template):
    config = triggers(template)["eventbridge"]["TriggerConfig"]
    source = config["eventSourceConfig"]
    assert source["eventSourceType"] == "MNS"
    mns = source["eventSourceParameters"]["sourceMNSParameters"]
    assert "IsBase64Decode" in mns and mns["IsBase64Decode"] is True
    assert mns["QueueName"] == {"Fn::GetAtt": ["RequestQueue", "QueueName"]}
    assert mns["RegionId"] == {"Ref": "ALIYUN::Region"}
    run = config["runOptions"]
    assert config["asyncInvocationType"] is True  # synchronous in FC 3.0: redelivery needs it
    assert run["mode"] == "event-streaming"
    assert run["batchWindow"] == {"CountBasedWindow": 10, "TimeBasedWindow": 5}
    assert run["retryStrategy"]["PushRetryStrategy"] == "BACKOFF_RETRY"
    assert run["errorsTolerance"] == "NONE"


def test_the_watch_queue_comes_back_through_its_own_trigger_set_like_the_request_queues(template):
    resources = template["Resources"]
    watch, request = (resources[name]["Properties"] for name in ("WatchTrigger", "QueueTrigger"))
    assert watch["TriggerType"] == "eventbridge" and watch["TriggerName"] != request["TriggerName"]
    assert watch["FunctionName"] == {"Fn::GetAtt": ["Function", "FunctionName"]}
    source = watch["TriggerConfig"]["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]
    assert source["QueueName"] == {"Fn::GetAtt": ["WatchQueue", "QueueName"]}
    # Everything else as the request queue's trigger: synchronous, streaming, stops rather than drops.
    def without_queue(config: dict) -> dict:
        config = json.loads(json.dumps(config))
        del config["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]["QueueName"]
        return config
    assert without_queue(watch["TriggerConfig"]) == without_queue(request["TriggerConfig"])
    queue = resources["WatchQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == resources["RequestQueue"]["Properties"]["VisibilityTimeout"]
    assert queue["QueueName"] == {"Fn::If": ["DerivedWatchQueueName", {"Fn::Sub": "${FunctionName}-watch"},
                                             {"Ref": "WatchQueueName"}]}


def test_topic_trigger_uses_json_and_its_own_invocation_role(template):
    trigger = triggers(template)["mns_topic"]
    assert trigger["TriggerConfig"]["notifyContentFormat"] == "JSON"  # every delivery carries a MessageId
    assert trigger["InvocationRole"] == {"Fn::GetAtt": ["MnsInvokeRole", "Arn"]}
    role = template["Resources"]["MnsInvokeRole"]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"]["Service"] for s in trust] == [["mns.aliyuncs.com"]]
    statements = policy_statements(role)
    assert [as_list(s["Action"]) for s in statements] == [["fc:InvokeFunction"]]
    assert as_list(statements[0]["Resource"]) == [
        {"Fn::Sub": "acs:fc:${ALIYUN::Region}:${ALIYUN::AccountId}:functions/${Function.FunctionName}"}]


def test_topic_trigger_listens_to_the_request_topic_never_the_notification_topic(template):
    source = triggers(template)["mns_topic"]["SourceArn"]
    assert source == {"Fn::Sub": "acs:mns:${ALIYUN::Region}:${ALIYUN::AccountId}:/topics/${RequestTopic.TopicName}"}
    assert "NotifyTopic" not in json.dumps(source)
    # Derived by default, the two names differ...
    context = offline_context(template, {"WebhookSecret": "s" * 32, "CodeBucket": "bucket"})
    request = context.resolve(template["Resources"]["RequestTopic"]["Properties"]["TopicName"])
    notify = context.resolve(template["Resources"]["NotifyTopic"]["Properties"]["TopicName"])
    assert (request, notify) == ("ds-record-deleter-requests", "ds-record-deleter-notifications")
    # ...and the stack refuses equal names given by hand, at creation time.
    given = {"WebhookSecret": "s" * 32, "CodeBucket": "bucket", "NotifyTopicName": "t", "RequestTopicName": "t"}
    assert any("must differ" in problem for problem in parameter_values(template, given)[1])
    assert not parameter_values(template, {**given, "RequestTopicName": "u"})[1]


def test_notification_topic_accepts_the_largest_message(template):
    assert template["Resources"]["NotifyTopic"]["Properties"]["MaximumMessageSize"] == 65536


def test_secrets_are_hidden_and_the_webhook_secret_is_required(template):
    parameters = template["Parameters"]
    for name in ("WebhookSecret", "RedisUrl"):
        assert parameters[name].get("NoEcho") is True, name
    assert "Default" not in parameters["WebhookSecret"]
    assert parameters["WebhookSecret"]["MinLength"] >= 32
    assert parameters["RedisUrl"]["Default"] == ""  # empty: the in-memory store, on one instance
    assert parameters["AllowedDomains"]["Default"] == ""  # empty: any domain in the account


def test_domain_api_parameters(template):
    parameters = template["Parameters"]
    assert parameters["DomainApiEndpoint"]["AllowedValues"] == ["domain.aliyuncs.com", "domain-intl.aliyuncs.com"]
    assert parameters["DomainApiEndpoint"]["Default"] == "domain.aliyuncs.com"
    assert parameters["DomainApiVersion"]["Default"] == "2018-01-29"


def test_the_calls_are_read_from_the_code():
    # What the code calls today; the derivation must see all of it (a parser that finds nothing
    # would make the policy test below vacuous).
    assert domain_api_actions() == {"QueryDSRecord", "QueryTaskList", "QueryTaskDetailList",
                                    "SaveSingleTaskForDeletingDSRecord"}
    assert mns_actions() == {"PublishMessage", "SendMessage"}  # notifications; each task's checks


def test_function_role_allows_exactly_the_actions_the_code_calls(template):
    statements = policy_statements(template["Resources"]["FunctionRole"])
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = [action for s in statements for action in as_list(s["Action"])]
    assert not [a for a in actions if "*" in a], "wildcard action"
    assert set(actions) == runtime_ram_actions()
    assert len(actions) == len(set(actions))
    assert "FullAccess" not in TEMPLATE_PATH.read_text(encoding="utf-8")
    assert not resources_of(template, "ALIYUN::RAM::AttachPolicyToRole")


def test_each_action_is_scoped_to_what_it_touches(template):
    scope = {}
    for statement in policy_statements(template["Resources"]["FunctionRole"]):
        for action in as_list(statement["Action"]):
            scope[action] = as_list(statement["Resource"])
    assert scope["mns:PublishMessage"] == [{"Fn::Sub": NOTIFY_MESSAGES_ARN}]
    assert scope["mns:SendMessage"] == [{"Fn::Sub": WATCH_MESSAGES_ARN}]  # the watch queue only
    assert scope["domain:DnsSecSetting"] == [{"Fn::Sub": "acs:domain:*:${ALIYUN::AccountId}:domain/*"}]
    assert scope["log:PostLogStoreLogs"] == [{"Fn::Sub": LOGSTORE_ARN}]
    # Only these two have no resource-level authorisation.
    assert scope["domain:QueryDSRecord"] == scope["domain:QueryDomainTask"] == ["*"]


def test_the_policy_description_names_every_call(template):
    [policy] = template["Resources"]["FunctionRole"]["Properties"]["Policies"]
    described = policy["Description"]
    for action in domain_api_actions() | mns_actions() | {"PostLogStoreLogs"}:
        assert re.search(rf"\b{action}\b", described), f"{action} not named in the policy Description"
    assert len(described) <= 1024  # RAM's limit on a policy description


def test_logs_go_to_a_logstore_of_the_stack(template):
    resources = template["Resources"]
    log_config = only(template, "ALIYUN::FC3::Function")["LogConfig"]
    assert log_config["Project"] == {"Fn::GetAtt": ["LogProject", "Name"]}
    assert log_config["Logstore"] == {"Fn::GetAtt": ["Logstore", "LogstoreName"]}
    assert log_config["EnableRequestMetrics"] is True
    assert resources["LogProject"]["Type"] == "ALIYUN::SLS::Project"
    logstore = only(template, "ALIYUN::SLS::Logstore")
    assert logstore["ProjectName"] == {"Fn::GetAtt": ["LogProject", "Name"]}
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,34}[a-z0-9]", logstore["LogstoreName"])
    assert logstore["TTL"] == {"Ref": "LogRetentionDays"}
    index = only(template, "ALIYUN::SLS::Index")  # without one the logs cannot be searched
    assert index["ProjectName"] == logstore["ProjectName"]
    assert index["LogstoreName"] == {"Fn::GetAtt": ["Logstore", "LogstoreName"]}
    assert index["FullTextIndex"]["Enable"] is True
    assert "LogIndex" in as_list(resources["Function"].get("DependsOn", []))
    retention = template["Parameters"]["LogRetentionDays"]
    # At least the 14 days an unpublished TaskNo is kept: its ERROR line is what operators go by.
    assert 14 <= retention["MinValue"] <= retention["Default"] <= retention["MaxValue"] <= 3600


def test_the_log_project_name_is_valid_when_derived(template):
    parameter = template["Parameters"]["LogProjectName"]
    assert parameter["Default"] == "" and re.fullmatch(parameter["AllowedPattern"], "")
    assert {"Fn::Equals": [{"Ref": "LogProjectName"}, ""]} == template["Conditions"]["DerivedLogProjectName"]
    condition, derived, given = template["Resources"]["LogProject"]["Properties"]["Name"]["Fn::If"]
    assert condition == "DerivedLogProjectName" and given == {"Ref": "LogProjectName"}
    # The longest account id and region name: still an SLS project name (3..63, [a-z0-9-]).
    context = offline_context(template, {"WebhookSecret": "s" * 32, "CodeBucket": "bucket"},
                              region=LONGEST_REGION, account="1" * 16)
    name = context.resolve(template["Resources"]["LogProject"]["Properties"]["Name"])
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name
    assert re.fullmatch(parameter["AllowedPattern"], name)


def test_the_in_memory_store_runs_on_one_instance_only(template):
    """With RedisUrl empty each instance has its own records: a redelivery landing on a second
    instance would submit a second deletion task. So the function is capped at one instance."""
    assert template["Conditions"]["InMemoryStore"] == {"Fn::Equals": [{"Ref": "RedisUrl"}, ""]}
    [cap] = resources_of(template, "ALIYUN::FC3::ConcurrencyConfig").values()
    assert cap["Condition"] == "InMemoryStore"
    assert cap["Properties"] == {"FunctionName": {"Fn::GetAtt": ["Function", "FunctionName"]},
                                 "ReservedConcurrency": 1}


def test_outputs_name_the_url_the_arn_and_the_message_endpoints(template):
    outputs = {name: output["Value"] for name, output in template["Outputs"].items()}
    assert outputs["WebhookUrl"] == {"Fn::If": ["HasCustomDomain", {"Fn::Sub": "https://${CustomDomainName}/"},
                                                {"Fn::GetAtt": ["HttpTrigger", "UrlInternet"]}]}
    assert outputs["HttpTriggerUrl"] == {"Fn::GetAtt": ["HttpTrigger", "UrlInternet"]}
    assert template["Resources"]["HttpTrigger"]["Properties"]["TriggerType"] == "http"
    assert outputs["FunctionArn"] == {"Fn::GetAtt": ["Function", "ARN"]}
    assert outputs["NotifyTopicName"] == {"Fn::GetAtt": ["NotifyTopic", "TopicName"]}
    assert outputs["RequestTopicName"] == {"Fn::GetAtt": ["RequestTopic", "TopicName"]}
    assert outputs["RequestQueueName"] == {"Fn::GetAtt": ["RequestQueue", "QueueName"]}
    assert outputs["WatchQueueName"] == {"Fn::GetAtt": ["WatchQueue", "QueueName"]}
    assert outputs["LogProjectName"] == {"Fn::GetAtt": ["LogProject", "Name"]}
    assert outputs["LogstoreName"] == {"Fn::GetAtt": ["Logstore", "LogstoreName"]}
