"""local/deploy_cloud.py with each SDK client's methods stubbed at the call: the requests it builds
from the SDKs' own models, and what it makes of the answers. The HTTP underneath is the SDKs'
and cannot be reached here (no account, no network)."""
from __future__ import annotations

import io

import pytest
from alibabacloud_ros20190910 import models as ros_models
from alibabacloud_tea_openapi.exceptions import ClientException

from local import deploy_cloud
from local.deploy_cloud import Cloud

CREDENTIALS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret"}


@pytest.fixture
def cloud(monkeypatch) -> Cloud:
    monkeypatch.setattr(deploy_cloud, "POLL_SECONDS", 0)
    return Cloud("cn-hangzhou", CREDENTIALS)


def answer(model, body: dict):
    return model().from_map({"headers": {}, "statusCode": 200, "body": body})


def test_a_missing_role_is_told_from_other_errors(cloud, monkeypatch):
    def get_role(request):
        if request.role_name == "Missing":
            raise ClientException(code="EntityNotExist.Role", message="The role does not exist.", status_code=404)
        if request.role_name == "Forbidden":
            raise ClientException(code="NoPermission", message="no", status_code=403)
        return object()

    monkeypatch.setattr(cloud.ram, "get_role", get_role)
    assert cloud.role_exists("AliyunServiceRoleForFC") is True
    assert cloud.role_exists("Missing") is False
    with pytest.raises(ClientException):  # not knowing is not "missing"
        cloud.role_exists("Forbidden")


def test_an_object_already_there_is_not_uploaded_again(cloud, monkeypatch, tmp_path):
    uploaded = []
    monkeypatch.setattr(cloud.oss, "is_object_exist", lambda bucket, key: key.endswith("old.zip"))
    monkeypatch.setattr(cloud.oss, "put_object_from_file",
                        lambda request, path: uploaded.append((request.bucket, request.key, path)))
    assert "already there" in cloud.upload("b", "p/old.zip", tmp_path / "old.zip")
    assert "uploaded" in cloud.upload("b", "p/new.zip", tmp_path / "new.zip")
    assert uploaded == [("b", "p/new.zip", str(tmp_path / "new.zip"))]


def test_a_new_stack_is_created_waited_for_and_its_outputs_returned(cloud, monkeypatch):
    created, statuses = [], iter(["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"])
    monkeypatch.setattr(cloud.ros, "list_stacks", lambda request: answer(ros_models.ListStacksResponse, {"Stacks": []}))
    monkeypatch.setattr(cloud.ros, "create_stack", lambda request: created.append(request) or answer(
        ros_models.CreateStackResponse, {"StackId": "stack-1"}))
    monkeypatch.setattr(cloud.ros, "get_stack", lambda request: answer(ros_models.GetStackResponse, {
        "StackId": request.stack_id, "Status": next(statuses),
        "Outputs": [{"OutputKey": "WebhookUrl", "OutputValue": "https://hook.example.com/"}]}))
    out = io.StringIO()
    outputs = cloud.create_or_update("dsrd", "ROSTemplateFormatVersion: '2015-09-01'", {"CodeBucket": "b"}, 30, out)
    assert outputs == {"WebhookUrl": "https://hook.example.com/"}
    [request] = created
    assert (request.region_id, request.stack_name, request.timeout_in_minutes) == ("cn-hangzhou", "dsrd", 30)
    assert [(p.parameter_key, p.parameter_value) for p in request.parameters] == [("CodeBucket", "b")]
    assert out.getvalue().count("CREATE_IN_PROGRESS") == 1 and "CREATE_COMPLETE" in out.getvalue()


def test_an_existing_stack_is_updated_and_a_failure_reported(cloud, monkeypatch):
    updated = []
    monkeypatch.setattr(cloud.ros, "list_stacks", lambda request: answer(ros_models.ListStacksResponse, {
        "Stacks": [{"StackName": "dsrd", "StackId": "stack-9", "Status": "CREATE_COMPLETE"}]}))
    monkeypatch.setattr(cloud.ros, "update_stack", lambda request: updated.append(request))
    monkeypatch.setattr(cloud.ros, "get_stack", lambda request: answer(ros_models.GetStackResponse, {
        "Status": "UPDATE_FAILED", "StatusReason": "Resource CREATE failed: RoleName exists"}))
    out = io.StringIO()
    assert cloud.create_or_update("dsrd", "body", {"WebhookSecret": "x" * 32}, 30, out) is None
    assert [request.stack_id for request in updated] == ["stack-9"]
    assert "UPDATE_FAILED: Resource CREATE failed: RoleName exists" in out.getvalue()


def test_a_refused_update_is_reported_not_raised(cloud, monkeypatch):
    def update_stack(request):
        raise ClientException(code="NotSupported", message="Update the completely same stack", status_code=400)

    monkeypatch.setattr(cloud.ros, "list_stacks", lambda request: answer(ros_models.ListStacksResponse, {
        "Stacks": [{"StackName": "dsrd", "StackId": "stack-9"}]}))
    monkeypatch.setattr(cloud.ros, "update_stack", update_stack)
    out = io.StringIO()
    assert cloud.create_or_update("dsrd", "body", {}, 30, out) is None
    assert "ROS refused the update: NotSupported: Update the completely same stack" in out.getvalue()
