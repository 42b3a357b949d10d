"""`make deploy`: the zips of `make build` to OSS, then the ROS stack of template.yml created or
updated, waited for, and its outputs printed. `make deploy DRY_RUN=1` prints the whole plan and
touches nothing: no credentials are read and nothing leaves the machine.

Settings come from the environment and, when DEPLOY_CONFIG names one, a file of KEY=VALUE lines
(`#` starts a comment; the environment wins over the file):

- REGION (required), STACK_NAME (ds-record-deleter), CODE_PREFIX (ds-record-deleter/, the OSS
  object prefix), TIMEOUT_MINUTES (30, ROS's limit for creating or updating the stack);
- any parameter of template.yml by its own name (CodeBucket, WebhookSecret, RedisUrl, ...), or
  NAME_FILE=path to read its value from a file (secrets, PEM certificates);
- credentials, from the environment only: ALIBABA_CLOUD_ACCESS_KEY_ID,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET and, for STS, ALIBABA_CLOUD_SECURITY_TOKEN.

FunctionCodeObject and LayerCodeObject are set here: each zip's object name carries its sha256, so
a new build is a changed property and ROS redeploys it; an unchanged build changes nothing.
FcServiceLinkedRole and EventBridgeServiceLinkedRole, unless given, are decided with RAM GetRole:
`create` for a role the account lacks. Parameter values are checked against the template before
anything is uploaded; NoEcho values are printed as ***.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, TextIO, Tuple

from local import ros_template

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"REGION": None, "STACK_NAME": "ds-record-deleter", "CODE_PREFIX": "ds-record-deleter/",
            "TIMEOUT_MINUTES": "30"}
CODE_OBJECTS = {"FunctionCodeObject": "function.zip", "LayerCodeObject": "layer.zip"}
SERVICE_LINKED_ROLES = {"FcServiceLinkedRole": "AliyunServiceRoleForFC",
                        "EventBridgeServiceLinkedRole": "AliyunServiceRoleForEventBridgeSendToFC"}
CREDENTIALS = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
FILE_SUFFIX = "_FILE"
SHOWN_CHARACTERS = 60


@dataclass(frozen=True)
class Artifact:
    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> "Artifact":
        data = path.read_bytes()
        return cls(path, len(data), hashlib.sha256(data).hexdigest())

    def object_name(self, prefix: str) -> str:
        return f"{prefix}{self.path.stem}-{self.sha256[:16]}{self.path.suffix}"


@dataclass
class Plan:
    settings: Dict[str, Optional[str]]
    given: Dict[str, str]  # template parameters as given (plus the code objects)
    artifacts: Dict[str, Artifact] = field(default_factory=dict)  # parameter -> zip
    values: Dict[str, object] = field(default_factory=dict)
    resources: List[Tuple[str, str]] = field(default_factory=list)
    undecided_roles: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def read_file(path: Path) -> Tuple[Dict[str, str], List[str]]:
    values, problems = {}, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not equals:
            problems.append(f"{path}:{number}: not KEY=VALUE")
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values, problems


def read_config(environ: Mapping[str, str], template: dict) -> Plan:
    """The deploy settings and template parameters from DEPLOY_CONFIG and the environment."""
    parameters = set(template["Parameters"])
    known = set(SETTINGS) | parameters | {name + FILE_SUFFIX for name in parameters}
    merged: Dict[str, str] = {}
    problems, notes = [], []
    config = environ.get("DEPLOY_CONFIG")
    if config:
        path = Path(config)
        if not path.is_file():
            problems.append(f"DEPLOY_CONFIG {config}: no such file")
        else:
            merged, problems = read_file(path)
            problems += [f"{config}: {key} is neither a deploy setting nor a template parameter"
                         for key in sorted(set(merged) - known)]
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                notes.append(f"{config} is readable by others: chmod 600 it, it may hold secrets")
    merged.update({key: value for key, value in environ.items() if key in known})
    for key in sorted(key for key in merged if key.endswith(FILE_SUFFIX)):
        name = key[:-len(FILE_SUFFIX)]
        if name in merged:
            problems.append(f"{name} and {key} are both given")
            continue
        try:
            merged[name] = Path(merged.pop(key)).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            problems.append(f"{key}: {error.strerror}")
    problems += [f"{name} is set by make deploy (the uploaded zip's name)" for name in CODE_OBJECTS if name in merged]
    settings = {key: merged.get(key, default) for key, default in SETTINGS.items()}
    if not settings["REGION"]:
        problems.append("REGION is required (e.g. cn-hangzhou)")
    given = {key: value for key, value in merged.items() if key in parameters}
    return Plan(settings=settings, given=given, notes=notes, problems=problems)


def make_plan(environ: Mapping[str, str], build_dir: Path, template: dict,
              roles: Optional[Mapping[str, str]] = None) -> Plan:
    """Everything a deployment would do, from the configuration and the built zips alone.
    `roles` are the service-linked role parameters decided with GetRole; without them (a dry
    run) those not given stay undecided and are evaluated at their defaults."""
    plan = read_config(environ, template)
    for parameter, file_name in CODE_OBJECTS.items():
        path = build_dir / file_name
        if not path.is_file():
            plan.problems.append(f"{path} is missing: run make build")
            continue
        plan.artifacts[parameter] = Artifact.of(path)
        plan.given[parameter] = plan.artifacts[parameter].object_name(plan.settings["CODE_PREFIX"] or "")
    for parameter in SERVICE_LINKED_ROLES:
        if parameter not in plan.given:
            if roles is not None and parameter in roles:
                plan.given[parameter] = roles[parameter]
            else:
                plan.undecided_roles.append(parameter)
    plan.values, wrong = ros_template.parameter_values(template, plan.given)
    plan.problems += wrong
    if not wrong:
        plan.resources = ros_template.resources(template, ros_template.Context(template, plan.values))
    return plan


def shown(template: dict, name: str, value: object) -> str:
    if ros_template.is_secret(template, name):
        return "***"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\n" in text or len(text) > SHOWN_CHARACTERS:
        return f"{text.splitlines()[0][:40]!r}... ({len(text)} characters)"
    return repr(text)


def render(plan: Plan, template: dict, dry_run: bool) -> str:
    region, stack = plan.settings["REGION"] or "<REGION>", plan.settings["STACK_NAME"]
    bucket = plan.given.get("CodeBucket", "<CodeBucket>")
    lines = [f"make deploy{' DRY_RUN=1' if dry_run else ''}: stack {stack} in {region}"]
    if dry_run:
        lines.append("Dry run: no credentials read, no network; nothing is uploaded or changed.")
    lines += ["", "Artifacts (make build):"]
    for parameter, artifact in plan.artifacts.items():
        lines.append(f"  {artifact.path.name:<13} {artifact.size:>10,} bytes  sha256 {artifact.sha256}")
    lines += ["", f"Uploads to OSS bucket {bucket} ({region}), skipped where the object already exists:"]
    for parameter, artifact in plan.artifacts.items():
        lines.append(f"  {artifact.path.name:<13} -> oss://{bucket}/{plan.given[parameter]}")
    lines += ["", "Parameters:"]
    for name in template["Parameters"]:
        if name in plan.undecided_roles:
            lines.append(f"  {name} = decided at deploy time by RAM GetRole {SERVICE_LINKED_ROLES[name]}: "
                         "create if the account has no such role, else exists")
        elif name in plan.values:
            origin = "" if name in plan.given else " (default)"
            lines.append(f"  {name} = {shown(template, name, plan.values[name])}{origin}")
    if plan.resources:
        lines += ["", f"Resources of the stack with these values ({len(plan.resources)}):"]
        lines += [f"  {name:<28} {kind}" for name, kind in plan.resources]
        left_out = [name for name in template["Resources"] if name not in dict(plan.resources)]
        if left_out:
            lines.append(f"  (not created with these values: {', '.join(left_out)})")
    lines += ["", "Changes:"]
    if dry_run:
        lines += [f"  A dry run does not read stack {stack}, so it cannot know what would change.",
                  f"  If {stack} does not exist in {region}, make deploy creates it with the {len(plan.resources)} "
                  "resources above;",
                  "  if it does, ROS updates it to this template and these values (resources whose properties",
                  "  are unchanged stay as they are), then prints the outputs."]
    else:
        lines.append("  Create or update follows; ROS decides per resource.")
    lines += [f"Note: {note}" for note in plan.notes]
    if plan.problems:
        lines += ["", "Problems (nothing was or would be done):"] + [f"  {problem}" for problem in plan.problems]
    return "\n".join(lines)


def credentials(environ: Mapping[str, str]) -> Tuple[Optional[Dict[str, str]], List[str]]:
    missing = [name for name in CREDENTIALS if not environ.get(name)]
    if missing:
        return None, missing
    found = {name: environ[name] for name in CREDENTIALS}
    if environ.get(SECURITY_TOKEN):
        found[SECURITY_TOKEN] = environ[SECURITY_TOKEN]
    return found, []


def deploy(environ: Mapping[str, str], build_dir: Path, template: dict, out: TextIO) -> int:
    """The real run. Its cloud calls (local/deploy_cloud.py) cannot run here: no account, no network."""
    found, missing = credentials(environ)
    plan = read_config(environ, template)
    if missing or plan.problems:
        for problem in plan.problems + [f"{name} is not set (credentials come from the environment only)"
                                        for name in missing]:
            print(problem, file=out)
        return 1
    from local.deploy_cloud import Cloud  # the SDKs are installed for the real run only

    cloud = Cloud(plan.settings["REGION"], found)
    roles = {parameter: ("exists" if cloud.role_exists(role) else "create")
             for parameter, role in SERVICE_LINKED_ROLES.items() if parameter not in plan.given}
    plan = make_plan(environ, build_dir, template, roles)
    print(render(plan, template, dry_run=False), file=out)
    if plan.problems:
        return 1
    bucket = plan.given["CodeBucket"]
    for parameter, artifact in plan.artifacts.items():
        print(f"{artifact.path.name}: {cloud.upload(bucket, plan.given[parameter], artifact.path)}", file=out)
    outputs = cloud.create_or_update(plan.settings["STACK_NAME"], ros_template.TEMPLATE_PATH.read_text(encoding="utf-8"),
                                     {name: str(value).lower() if isinstance(value, bool) else str(value)
                                      for name, value in plan.given.items()},
                                     int(plan.settings["TIMEOUT_MINUTES"]), out)
    if outputs is None:
        return 1
    print("\nOutputs:", file=out)
    for name, value in outputs.items():
        print(f"  {name} = {value}", file=out)
    return 0


def main(argv: Optional[List[str]] = None, environ: Mapping[str, str] = os.environ, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the plan; no credentials, no network")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build")
    arguments = parser.parse_args(argv)
    template = ros_template.load()
    if arguments.dry_run:
        plan = make_plan(environ, arguments.build_dir, template)
        print(render(plan, template, dry_run=True), file=out)
        return 1 if plan.problems else 0
    return deploy(environ, arguments.build_dir, template, out)


if __name__ == "__main__":
    sys.exit(main())
