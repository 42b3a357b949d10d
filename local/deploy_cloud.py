"""The cloud calls of `make deploy`, through the official SDKs (local/deploy-requirements.txt).

Kept small on purpose: no call here reaches the cloud in the test suite (no account, no network;
tests/e2e/test_deploy_cloud.py stubs each SDK client at the call), so each method is one SDK call
or a plain poll loop. RAM GetRole decides the service-linked roles, OSS
takes the zips, ROS creates or updates the stack and is polled until it settles.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, Optional, TextIO

import alibabacloud_oss_v2 as oss
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_ros20190910 import models as ros_models
from alibabacloud_ros20190910.client import Client as RosClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import ClientException

POLL_SECONDS = 10
MISSING_ROLE = "EntityNotExist.Role"  # RAM GetRole's answer for a role the account lacks
SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")


class Cloud:
    def __init__(self, region: str, credentials: Dict[str, str]) -> None:
        self.region = region
        key_id, secret = credentials["ALIBABA_CLOUD_ACCESS_KEY_ID"], credentials["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
        token = credentials.get("ALIBABA_CLOUD_SECURITY_TOKEN")

        def config(endpoint: str) -> openapi_models.Config:
            return openapi_models.Config(access_key_id=key_id, access_key_secret=secret, security_token=token,
                                         region_id=region, endpoint=endpoint)

        self.ram = RamClient(config("ram.aliyuncs.com"))
        self.ros = RosClient(config("ros.aliyuncs.com"))
        oss_config = oss.config.load_default()
        oss_config.credentials_provider = oss.credentials.StaticCredentialsProvider(key_id, secret, token)
        oss_config.region = region
        self.oss = oss.Client(oss_config)

    def role_exists(self, name: str) -> bool:
        try:
            self.ram.get_role(ram_models.GetRoleRequest(role_name=name))
        except ClientException as error:  # a 4xx answer: the role may be missing
            if error.code == MISSING_ROLE:
                return False
            raise
        return True

    def upload(self, bucket: str, key: str, path: Path) -> str:
        if self.oss.is_object_exist(bucket, key):
            return f"oss://{bucket}/{key} is already there"
        self.oss.put_object_from_file(oss.PutObjectRequest(bucket=bucket, key=key), str(path))
        return f"uploaded to oss://{bucket}/{key}"

    def create_or_update(self, stack_name: str, template_body: str, parameters: Dict[str, str], timeout_minutes: int,
                         out: TextIO) -> Optional[Dict[str, str]]:
        """The stack's outputs once it settled well, or None (the reason printed)."""
        found = self.ros.list_stacks(ros_models.ListStacksRequest(region_id=self.region, stack_name=[stack_name]))
        stacks = [s for s in found.body.stacks or [] if s.stack_name == stack_name]
        if stacks:
            stack_id = stacks[0].stack_id
            print(f"Updating stack {stack_name} ({stack_id})", file=out)
            try:
                self.ros.update_stack(ros_models.UpdateStackRequest(
                    region_id=self.region, stack_id=stack_id, template_body=template_body,
                    timeout_in_minutes=timeout_minutes,
                    parameters=[ros_models.UpdateStackRequestParameters(parameter_key=k, parameter_value=v)
                                for k, v in parameters.items()]))
            except ClientException as error:  # e.g. nothing changed, or a stack still in progress
                print(f"ROS refused the update: {error.code}: {error.message}", file=out)
                return None
        else:
            print(f"Creating stack {stack_name}", file=out)
            stack_id = self.ros.create_stack(ros_models.CreateStackRequest(
                region_id=self.region, stack_name=stack_name, template_body=template_body,
                timeout_in_minutes=timeout_minutes, disable_rollback=False,
                parameters=[ros_models.CreateStackRequestParameters(parameter_key=k, parameter_value=v)
                            for k, v in parameters.items()])).body.stack_id
        last = None
        while True:
            stack = self.ros.get_stack(ros_models.GetStackRequest(region_id=self.region, stack_id=stack_id)).body
            if stack.status != last:
                print(f"  {stack.status}", file=out)
                last = stack.status
            if not stack.status.endswith("_IN_PROGRESS"):
                break
            time.sleep(POLL_SECONDS)
        if stack.status not in SETTLED_OK:
            print(f"Stack {stack_name} ended {stack.status}: {stack.status_reason}", file=out)
            return None
        return {output["OutputKey"]: output.get("OutputValue") for output in stack.outputs or []}
