"""The ROS resource specification, read offline from the ROS CDK Python packages.

Each `ros-cdk-<family>` wheel ships its TypeScript build as data: `_jsii/<name>.jsii.tgz` holds
the jsii assembly (`package/.jsii`, JSON) and `package/lib/<family>.generated.js`, the code
generated "from the AliCloud ROS Resource Specification". That code has, per resource type and
per nested property type, one function that renders ROS property names
(`'Timeout': ros.numberToRosTemplate(properties.timeout)`) and one validator
(`ros.requiredValidator`, `validateRange`, `validateLength`, `validateAllowedValues`,
`validateAllowedPattern`). Both are regular enough to read with regular expressions; the files
are read, never imported (importing a jsii package starts node).

`spec()` gives every resource type of the packages in PACKAGES: its properties (recursively into
nested property types), required flags, ranges, lengths, allowed values and patterns, and the
attributes `Fn::GetAtt` may ask for. `problems(template)` checks a template against it.
"""
from __future__ import annotations

import importlib.util
import json
import re
import tarfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Tuple

# The families template.yml uses (ros-cdk-core holds no resource types).
PACKAGES = ("ros_cdk_fc3", "ros_cdk_mns", "ros_cdk_ram", "ros_cdk_sls", "ros_cdk_resourcemanager")

_FUNCTION = re.compile(r"^function (\w+)\(properties[^)]*\) \{\n(.*?)^\}\n", re.M | re.S)
_CLASS = re.compile(r"^class (\w+) extends ros\.RosResource \{\n(.*?)^\}\n", re.M | re.S)
_TYPE_NAME = re.compile(r'^(\w+)\.ROS_RESOURCE_TYPE_NAME = "([^"]+)";', re.M)
_RENDERER_OF_CLASS = re.compile(r"return (\w+PropsToRosTemplate)\(props, ")
_GET_ATT = re.compile(r"this\.getAtt\('([^']+)'\)")
_RENDERED = re.compile(r"^\s+'(\w+)': (.+)\(properties\.(\w+)\),$", re.M)
_VALIDATOR_OF_RENDERER = re.compile(r"(\w+Validator)\(properties\)\.assertSuccess\(\)")
_REQUIRED = re.compile(r"ros\.propertyValidator\('(\w+)', ros\.requiredValidator\)")
_CONSTRAINT = re.compile(r"ros\.propertyValidator\('(\w+)', ros\.(validateRange|validateLength|validateAllowedValues|"
                         r"validateAllowedPattern)\)\(\{\n(.*?)\}\)\);", re.S)
_BOUND = re.compile(r"^\s+(min|max): ([^,\n]+),$", re.M)
_ALLOWED = re.compile(r"^\s+allowedValues: (\[.*\]),$", re.M)
_PATTERN = re.compile(r"^\s+reg: /(.*)/(\w*)$", re.M)
_SCALARS = {"ros.stringToRosTemplate": "string", "ros.numberToRosTemplate": "number",
            "ros.booleanToRosTemplate": "boolean", "ros.objectToRosTemplate": "any",
            "ros.anyDictToRosTemplate": "any"}


@dataclass(frozen=True)
class Value:
    """What one value (a property, a list element or a map value) may be."""
    kind: str  # string, number, boolean, any, object (a nested property type), list, map
    element: Optional["Value"] = None  # of a list or a map
    shape: Optional["Shape"] = None  # of an object


@dataclass(frozen=True)
class Property:
    name: str  # as written in a template (PascalCase)
    value: Value
    required: bool = False
    range: Optional[Tuple[Optional[float], Optional[float]]] = None
    length: Optional[Tuple[Optional[int], Optional[int]]] = None
    allowed: Optional[Tuple[Any, ...]] = None
    pattern: Optional[str] = None


@dataclass(frozen=True)
class Shape:
    name: str  # the renderer it was read from, for messages
    properties: Dict[str, Property] = field(hash=False, compare=False)


@dataclass(frozen=True)
class ResourceType:
    name: str
    shape: Shape
    attributes: FrozenSet[str]
    package: str


def _bound(text: str) -> Optional[float]:
    text = text.strip()
    return None if text == "undefined" else float(text)


class _Assembly:
    """One package's generated code, turned into shapes on demand."""

    def __init__(self, package: str, code: str) -> None:
        self.package = package
        self.code = code
        self.functions = {name: body for name, body in _FUNCTION.findall(code)}
        self.shapes: Dict[str, Shape] = {}

    def shape(self, renderer: str) -> Shape:
        if renderer not in self.shapes:
            body = self.functions[renderer]
            [validator] = _VALIDATOR_OF_RENDERER.findall(body)
            checks = self.functions[validator]
            required = set(_REQUIRED.findall(checks))
            constraints: Dict[str, dict] = {}
            for camel, check, arguments in _CONSTRAINT.findall(checks):
                found = constraints.setdefault(camel, {})
                bounds = {key: _bound(value) for key, value in _BOUND.findall(arguments)}
                if check == "validateRange":
                    found["range"] = (bounds.get("min"), bounds.get("max"))
                elif check == "validateLength":
                    found["length"] = (bounds.get("min"), bounds.get("max"))
                elif check == "validateAllowedValues":
                    found["allowed"] = tuple(json.loads(_ALLOWED.search(arguments).group(1)))
                else:
                    found["pattern"] = _PATTERN.search(arguments).group(1)
            shape = Shape(renderer, {})
            self.shapes[renderer] = shape  # before recursing: property types may nest each other
            for name, mapper, camel in _RENDERED.findall(body):
                shape.properties[name] = Property(name, self.value(mapper), camel in required,
                                                  **constraints.get(camel, {}))
        return self.shapes[renderer]

    def value(self, mapper: str) -> Value:
        for wrapper, kind in (("ros.listMapper(", "list"), ("ros.hashMapper(", "map")):
            if mapper.startswith(wrapper) and mapper.endswith(")"):
                return Value(kind, element=self.value(mapper[len(wrapper):-1]))
        if mapper in _SCALARS:
            return Value(_SCALARS[mapper])
        return Value("object", shape=self.shape(mapper))

    def resource_types(self) -> Iterator[ResourceType]:
        names = dict(_TYPE_NAME.findall(self.code))
        for class_name, body in _CLASS.findall(self.code):
            [renderer] = _RENDERER_OF_CLASS.findall(body)
            yield ResourceType(names[class_name], self.shape(renderer), frozenset(_GET_ATT.findall(body)),
                               self.package)


def _archive(package: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or found.origin is None:
        raise LookupError(f"{package} is not installed (requirements-dev.txt pins it)")
    [archive] = (Path(found.origin).parent / "_jsii").glob("*.jsii.tgz")
    return archive


def read_package(package: str) -> Tuple[dict, str]:
    """The package's jsii assembly (JSON) and its generated code (every *.generated.js, joined)."""
    with tarfile.open(_archive(package)) as archive:
        members = {member.name: member for member in archive.getmembers()}
        assembly = json.load(archive.extractfile(members["package/.jsii"]))
        code = "".join(archive.extractfile(member).read().decode("utf-8") for name, member in sorted(members.items())
                       if re.fullmatch(r"package/lib/[\w-]+\.generated\.js", name))
    return assembly, code


@lru_cache(maxsize=None)
def spec(packages: Tuple[str, ...] = PACKAGES) -> Dict[str, ResourceType]:
    types: Dict[str, ResourceType] = {}
    for package in packages:
        for resource_type in _Assembly(package, read_package(package)[1]).resource_types():
            types[resource_type.name] = resource_type
    return types


# --- checking a template against the specification ---------------------------------------------

RESOURCE_KEYS = {"Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "Metadata"}
PARAMETER_TYPES = {"String", "Number", "Boolean", "CommaDelimitedList", "Json"}


@dataclass(frozen=True)
class Span:
    """The numbers an intrinsic function may produce, when only bounds are known."""
    low: float
    high: float


def _is_intrinsic(node: Any) -> bool:
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in ("Ref",) + _FUNCTIONS


_FUNCTIONS = ("Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::FindInMap", "Fn::Add", "Fn::Max", "Fn::Min",
              "Fn::Select", "Fn::Split", "Fn::Replace", "Fn::Str", "Fn::Base64Encode", "Fn::GetAZs",
              "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains")


def _no_value(node: Any) -> bool:
    return node == {"Ref": "ALIYUN::NoValue"}


def possible(node: Any, template: dict) -> Any:
    """What a value may be, as far as the template alone says: a list of literals, a Span of
    numbers, or None (not known before the stack exists, e.g. a Fn::GetAtt)."""
    from local.ros_template import _typed

    if not isinstance(node, (dict, list)):
        return [node]
    if not _is_intrinsic(node):
        return None
    [(function, arguments)] = node.items()
    if function == "Ref":
        definition = template.get("Parameters", {}).get(arguments)
        if definition is None:
            return None
        kind = definition.get("Type", "String")
        if "AllowedValues" in definition:
            return [_typed(kind, value) for value in definition["AllowedValues"]]
        if kind == "Number" and ("MinValue" in definition or "MaxValue" in definition):
            return Span(definition.get("MinValue", float("-inf")), definition.get("MaxValue", float("inf")))
        return None
    if function == "Fn::If":
        branches = [possible(branch, template) for branch in arguments[1:] if not _no_value(branch)]
        return _union(branches)
    if function == "Fn::FindInMap":
        mapping = template["Mappings"][arguments[0]]
        keys = possible(arguments[1], template)
        keys = keys if isinstance(keys, list) else list(mapping)
        return [mapping[str(key)][arguments[2]] for key in keys]
    if function in ("Fn::Add", "Fn::Max", "Fn::Min"):
        spans = [_span(possible(argument, template)) for argument in arguments]
        if None in spans:
            return None
        combine = {"Fn::Add": sum, "Fn::Max": max, "Fn::Min": min}[function]
        return Span(combine(span.low for span in spans), combine(span.high for span in spans))
    return None


def _span(found: Any) -> Optional[Span]:
    if isinstance(found, Span):
        return found
    if isinstance(found, list) and found and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in found):
        return Span(min(found), max(found))
    return None


def _union(branches: List[Any]) -> Any:
    if any(branch is None for branch in branches):
        return None
    if all(isinstance(branch, list) for branch in branches):
        return [value for branch in branches for value in branch]
    spans = [_span(branch) for branch in branches]
    return None if None in spans else Span(min(s.low for s in spans), max(s.high for s in spans))


class Checker:
    """Collects every disagreement between a template and the specification."""

    def __init__(self, template: dict, types: Dict[str, ResourceType]) -> None:
        self.template = template
        self.types = types
        self.problems: List[str] = []

    def run(self) -> List[str]:
        self.parameters()
        for name, resource in self.template.get("Resources", {}).items():
            self.resource(name, resource)
        self.references()
        return self.problems

    def parameters(self) -> None:
        from local.ros_template import _typed, constraint_problems

        for name, definition in self.template.get("Parameters", {}).items():
            kind = definition.get("Type", "String")
            if kind not in PARAMETER_TYPES:
                self.problems.append(f"parameter {name}: unknown Type {kind}")
            if "Default" in definition:
                self.problems += [f"parameter {name}: its Default fails: {problem}" for problem in
                                  constraint_problems(name, definition, _typed(kind, definition["Default"]))]

    def resource(self, name: str, resource: dict) -> None:
        unknown_keys = set(resource) - RESOURCE_KEYS
        if unknown_keys:
            self.problems.append(f"{name}: unknown resource keys {sorted(unknown_keys)}")
        if resource.get("DeletionPolicy", "Delete") not in ("Delete", "Retain"):
            self.problems.append(f"{name}: DeletionPolicy must be Delete or Retain")
        resource_type = self.types.get(resource.get("Type"))
        if resource_type is None:
            self.problems.append(f"{name}: unknown resource type {resource.get('Type')}")
            return
        self.object(resource.get("Properties", {}), resource_type.shape, name)

    def object(self, properties: Any, shape: Shape, where: str) -> None:
        if not isinstance(properties, dict):
            self.problems.append(f"{where}: must be a map")
            return
        for key in properties.keys() - shape.properties.keys():
            self.problems.append(f"{where}.{key}: unknown property (known: {', '.join(sorted(shape.properties))})")
        for key, definition in shape.properties.items():
            if key in properties:
                self.value(properties[key], definition.value, definition, f"{where}.{key}")
            elif definition.required:
                self.problems.append(f"{where}.{key}: required property missing")

    def value(self, node: Any, value: Value, constraints: Optional[Property], where: str) -> None:
        if _is_intrinsic(node):
            [(function, arguments)] = node.items()
            if function == "Fn::If":  # either branch may be what ROS sees
                for branch in arguments[1:]:
                    if not _no_value(branch):
                        self.value(branch, value, constraints, where)
                return
            found = possible(node, self.template)
            if isinstance(found, list):
                for candidate in found:
                    self.value(candidate, value, constraints, where)
            elif isinstance(found, Span) and constraints is not None and constraints.range is not None:
                low, high = constraints.range
                if (low is not None and found.low < low) or (high is not None and found.high > high):
                    self.problems.append(f"{where}: may be {found.low:g}..{found.high:g}, outside {low}..{high}")
            return
        if not self.kind(node, value, where):
            return
        if value.kind == "object":
            self.object(node, value.shape, where)
        elif value.kind in ("list", "map"):
            items = node if value.kind == "list" else list(node.values())
            for index, item in enumerate(items):
                self.value(item, value.element, None, f"{where}[{index}]")
        if constraints is not None:
            self.constraints(node, constraints, where)

    def kind(self, node: Any, value: Value, where: str) -> bool:
        expected = {"string": str, "boolean": bool, "list": list, "map": dict, "object": dict}.get(value.kind)
        if value.kind == "number":
            fits = isinstance(node, (int, float)) and not isinstance(node, bool)
        else:
            fits = expected is None or isinstance(node, expected)
        if not fits:
            self.problems.append(f"{where}: must be a {value.kind}, not {type(node).__name__}")
        return fits

    def constraints(self, node: Any, definition: Property, where: str) -> None:
        if definition.range is not None and isinstance(node, (int, float)):
            low, high = definition.range
            if (low is not None and node < low) or (high is not None and node > high):
                self.problems.append(f"{where}: {node} is outside {low}..{high}")
        if definition.length is not None and isinstance(node, (str, list)):
            low, high = definition.length
            if (low is not None and len(node) < low) or (high is not None and len(node) > high):
                self.problems.append(f"{where}: length {len(node)} is outside {low}..{high}")
        if definition.allowed is not None and node not in definition.allowed:
            self.problems.append(f"{where}: {node!r} is not one of {definition.allowed}")
        if definition.pattern is not None and isinstance(node, str) and not re.search(definition.pattern, node):
            self.problems.append(f"{where}: {node!r} does not match /{definition.pattern}/")

    def references(self) -> None:
        from local.ros_template import PSEUDO_PARAMETERS, SUB_VARIABLE

        parameters = set(self.template.get("Parameters", {}))
        resources = self.template.get("Resources", {})
        conditions = set(self.template.get("Conditions", {}))
        for name in sorted(parameters & set(resources)):  # Ref and ${...} could mean either
            self.problems.append(f"{name}: both a parameter and a resource")

        def attribute_problem(resource: str, attribute: Optional[str]) -> Optional[str]:
            if resource not in resources:
                return f"{resource} is no resource"
            known = self.types.get(resources[resource]["Type"])
            if attribute is not None and known is not None and attribute not in known.attributes:
                return f"{resources[resource]['Type']} has no attribute {attribute} (has {sorted(known.attributes)})"
            return None

        for name in _arguments(self.template, "Ref"):
            if name not in parameters and name not in resources and name not in PSEUDO_PARAMETERS:
                self.problems.append(f"Ref {name}: names nothing")
        for target in _arguments(self.template, "Fn::GetAtt"):
            problem = attribute_problem(*target)
            if problem:
                self.problems.append(f"Fn::GetAtt {target}: {problem}")
        for argument in _arguments(self.template, "Fn::Sub"):
            text = argument if isinstance(argument, str) else argument[0]
            extra = {} if isinstance(argument, str) else argument[1]
            for variable in SUB_VARIABLE.findall(text):
                if variable.startswith("!") or variable in extra or variable in parameters or variable in PSEUDO_PARAMETERS:
                    continue
                resource, _, attribute = variable.partition(".")
                problem = attribute_problem(resource, attribute or None)
                if problem:
                    self.problems.append(f"Fn::Sub ${{{variable}}}: {problem}")
        for argument in _arguments(self.template, "Fn::If"):
            if argument[0] not in conditions:
                self.problems.append(f"Fn::If {argument[0]}: no such condition")
        for argument in _arguments(self.template, "Fn::FindInMap"):
            if argument[0] not in self.template.get("Mappings", {}):
                self.problems.append(f"Fn::FindInMap {argument[0]}: no such mapping")
        for section in ("Resources", "Outputs"):
            for name, entry in self.template.get(section, {}).items():
                if "Condition" in entry and entry["Condition"] not in conditions:
                    self.problems.append(f"{name}: no condition {entry['Condition']}")
                depends = entry.get("DependsOn", [])
                for dependency in [depends] if isinstance(depends, str) else depends:
                    if dependency not in resources:
                        self.problems.append(f"{name}: DependsOn {dependency}: no such resource")


def _arguments(node: Any, function: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == function:
                yield value
            yield from _arguments(value, function)
    elif isinstance(node, list):
        for item in node:
            yield from _arguments(item, function)


def problems(template: dict, types: Optional[Dict[str, ResourceType]] = None) -> List[str]:
    """Everything in the template the specification disagrees with; empty when it agrees."""
    return Checker(template, spec() if types is None else types).run()


def offline_context(template: dict, given: Optional[Dict[str, Any]] = None, region: str = "cn-hangzhou",
                    account: str = "1234567890123456"):
    """A Context for evaluating the template without a stack: parameters from `given` (else their
    defaults; a required one without a value fails), pseudo parameters made up, and Fn::GetAtt of
    a name attribute (TopicName, FunctionName, ...) echoing the property it is created from."""
    from local.ros_template import Context, parameter_values

    values, wrong = parameter_values(template, given or {})
    assert not wrong, wrong

    def attribute(resource: str, name: str) -> Any:
        properties = template["Resources"][resource]["Properties"]
        if name in properties:
            return context.resolve(properties[name])
        return f"<{resource}.{name}>"

    context = Context(template, values, pseudo={"ALIYUN::Region": region, "ALIYUN::AccountId": account,
                                                "ALIYUN::StackName": "stack"},
                      reference=lambda resource: f"<{resource}>", attribute=attribute)
    return context
