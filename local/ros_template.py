"""A ROS template offline: parameter values checked the way ROS checks them, the conditions, and the
intrinsic functions template.yml uses, evaluated with given parameter values.

`make deploy` uses it to refuse bad parameters before anything is uploaded and to say which
resources a stack would have; the tests use it to resolve what the function would receive.
Functions it does not know raise TemplateError rather than guess.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yml"
NO_VALUE = object()  # what Ref ALIYUN::NoValue resolves to: the key or item disappears
PSEUDO_PARAMETERS = ("ALIYUN::StackName", "ALIYUN::StackId", "ALIYUN::Region", "ALIYUN::AccountId",
                     "ALIYUN::TenantId", "ALIYUN::ResourceGroupId", "ALIYUN::NoValue", "ALIYUN::Index")
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """The template uses something this evaluator does not know."""


def load(path: Path = TEMPLATE_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def is_secret(template: dict, name: str) -> bool:
    return bool(template["Parameters"].get(name, {}).get("NoEcho"))


# --- parameters --------------------------------------------------------------------------------

def _typed(kind: str, raw: Any) -> Any:
    """A given value (text, as the ROS API takes it, or a YAML default) as the parameter's type."""
    if kind == "Number":
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
        return int(number) if number.is_integer() and "." not in str(raw) else number
    if kind == "Boolean":
        text = str(raw).lower()
        if text not in ("true", "false"):
            raise ValueError
        return text == "true"
    if kind == "CommaDelimitedList":
        return raw if isinstance(raw, list) else [item.strip() for item in str(raw).split(",")]
    return raw if isinstance(raw, str) else str(raw)


def _same(left: Any, right: Any) -> bool:
    """Equality as ROS compares parameter values: booleans and numbers by value, else as text."""
    if isinstance(left, bool) or isinstance(right, bool):
        return str(left).lower() == str(right).lower()
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return str(left) == str(right)


def constraint_problems(name: str, definition: dict, value: Any) -> List[str]:
    """What is wrong with one typed value. Never the value itself: it may be a secret."""
    problems = []
    allowed = definition.get("AllowedValues")
    if allowed is not None and not any(_same(value, option) for option in allowed):
        problems.append(f"{name} must be one of {', '.join(map(str, allowed))}")
    if isinstance(value, str):
        pattern = definition.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append(f"{name} must match {pattern}")
        if len(value) < definition.get("MinLength", 0):
            problems.append(f"{name} must be at least {definition['MinLength']} characters")
        if "MaxLength" in definition and len(value) > definition["MaxLength"]:
            problems.append(f"{name} must be at most {definition['MaxLength']} characters")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "MinValue" in definition and value < definition["MinValue"]:
            problems.append(f"{name} must be at least {definition['MinValue']}")
        if "MaxValue" in definition and value > definition["MaxValue"]:
            problems.append(f"{name} must be at most {definition['MaxValue']}")
    return problems


def parameter_values(template: dict, given: Mapping[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """Every parameter's value (given, else its default) and what ROS would refuse: unknown or
    missing parameters, values outside their constraints, and failed Rules."""
    definitions = template.get("Parameters", {})
    problems = [f"{name} is not a parameter of the template" for name in sorted(set(given) - set(definitions))]
    values: Dict[str, Any] = {}
    for name, definition in definitions.items():
        raw = given.get(name, definition.get("Default"))
        if raw is None:
            problems.append(f"{name} is required")
            continue
        try:
            values[name] = _typed(definition.get("Type", "String"), raw)
        except ValueError:
            problems.append(f"{name} must be a {definition['Type']}")
            continue
        problems += constraint_problems(name, definition, values[name])
    if not problems:  # rules only make sense over valid values
        problems += rule_problems(template, values)
    return values, problems


def rule_problems(template: dict, values: Mapping[str, Any]) -> List[str]:
    context = Context(template, values)
    problems = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not context.truth(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not context.truth(assertion["Assert"]):
                problems.append(assertion.get("AssertDescription", f"rule {name} failed"))
    return problems


# --- conditions and intrinsic functions --------------------------------------------------------

class Context:
    """The values a template is evaluated with. `reference` answers Ref to a resource and
    `attribute` Fn::GetAtt; both are only known once the stack exists, so by default they fail."""

    def __init__(self, template: dict, values: Mapping[str, Any], pseudo: Optional[Mapping[str, Any]] = None,
                 reference: Optional[Callable[[str], Any]] = None,
                 attribute: Optional[Callable[[str, str], Any]] = None) -> None:
        self.template = template
        self.values = values
        self.pseudo = {"ALIYUN::NoValue": NO_VALUE, **(pseudo or {})}
        self.reference = reference or self._unknown
        self.attribute = attribute or self._unknown
        self._conditions: Dict[str, bool] = {}

    @staticmethod
    def _unknown(*names: str) -> Any:
        raise TemplateError(f"{'.'.join(names)} is only known once the stack exists")

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.template["Conditions"][name])
        return self._conditions[name]

    def conditions(self) -> Dict[str, bool]:
        return {name: self.condition(name) for name in self.template.get("Conditions", {})}

    def truth(self, node: Any) -> bool:
        """A condition: Fn::Equals/Not/And/Or/Contains, a condition's name, or a boolean."""
        if isinstance(node, str) and node in self.template.get("Conditions", {}):
            return self.condition(node)
        if isinstance(node, bool):
            return node
        [(function, arguments)] = node.items()
        if function == "Fn::Equals":
            left, right = (self.resolve(argument) for argument in arguments)
            return _same(left, right)
        if function == "Fn::Not":
            [inner] = arguments if isinstance(arguments, list) else [arguments]
            return not self.truth(inner)
        if function == "Fn::And":
            return all(self.truth(item) for item in arguments)
        if function == "Fn::Or":
            return any(self.truth(item) for item in arguments)
        if function == "Fn::Contains":
            options, value = (self.resolve(argument) for argument in arguments)
            return any(_same(value, option) for option in options)
        raise TemplateError(f"{function} as a condition")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(item) for item in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(function, arguments)] = node.items()
            if function == "Ref" or function.startswith("Fn::"):
                return self._function(function, arguments)
        return {key: value for key, value in ((key, self.resolve(value)) for key, value in node.items())
                if value is not NO_VALUE}

    def _function(self, function: str, arguments: Any) -> Any:
        if function == "Ref":
            return self.ref(arguments)
        if function == "Fn::GetAtt":
            return self.attribute(*arguments)
        if function == "Fn::Sub":
            text, extra = (arguments, {}) if isinstance(arguments, str) else arguments
            return SUB_VARIABLE.sub(lambda match: self._sub_variable(match.group(1), extra), text)
        if function == "Fn::If":
            condition, if_true, if_false = arguments
            return self.resolve(if_true if self.condition(condition) else if_false)
        if function == "Fn::Join":
            separator, items = arguments
            return separator.join(str(item) for item in self.resolve(items))
        if function == "Fn::FindInMap":
            mapping, key, field = (self.resolve(argument) for argument in arguments)
            return self.template["Mappings"][mapping][str(key)][field]
        if function in ("Fn::Add", "Fn::Max", "Fn::Min"):
            numbers = [self.resolve(argument) for argument in arguments]
            return {"Fn::Add": sum, "Fn::Max": max, "Fn::Min": min}[function](numbers)
        if function in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains"):
            return self.truth({function: arguments})
        raise TemplateError(f"{function} is not evaluated here")

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in PSEUDO_PARAMETERS:
            return self._unknown(name)
        if name in self.template.get("Resources", {}):
            return self.reference(name)
        raise TemplateError(f"Ref {name} names nothing")

    def _sub_variable(self, variable: str, extra: Mapping[str, Any]) -> str:
        if variable.startswith("!"):  # ${!Literal} is an escape
            return "${" + variable[1:] + "}"
        if variable in extra:
            return str(self.resolve(extra[variable]))
        if variable in self.values or variable in PSEUDO_PARAMETERS or "." not in variable:
            return str(self.ref(variable))
        return str(self.attribute(*variable.split(".", 1)))


def resources(template: dict, context: Context) -> List[Tuple[str, str]]:
    """(logical id, type) of every resource the stack would have with these values."""
    return [(name, resource["Type"]) for name, resource in template["Resources"].items()
            if "Condition" not in resource or context.condition(resource["Condition"])]
