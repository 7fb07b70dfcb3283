"""CloudFormation intrinsic functions, resolved the way CloudFormation would for one deployment: the template tests'
made-up stack, a stack of the local world (whose resources already have names: `names`), or the organisation's
central stack (org/central.yaml, `localaws/organisation.py`).

Only what the templates use (Ref incl. AWS::NoValue, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Split, Fn::Select,
Fn::If with Fn::Equals/Fn::Not/Fn::And/Fn::Or conditions). Parameters take their defaults unless overridden;
resources get names and ARNs shaped like the ones CloudFormation generates. Anything else raises, so the
routing and policy tests cannot pass on an intrinsic they did not understand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "das-guard"
KEY_IDS = {
    "ActivityStreamKey": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "OperationsKey": "5678abcd-12ab-34cd-56ef-1234567890ab",
}


NO_VALUE = object()  # AWS::NoValue: the list item or property is removed, as CloudFormation does


class Resolver:
    """`names`: physical names of resources that already exist (logical id -> queue/topic/table/role/function/rule
    name), e.g. the local world's stack; other resources get names shaped like the ones CloudFormation generates."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        *,
        account: str = ACCOUNT,
        region: str = REGION,
        stack: str = STACK,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self._template = template
        self._account, self._region, self._stack = account, region, stack
        self._names = dict(names or {})
        self._pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::StackName": stack,
            "AWS::Partition": "aws",
        }
        self._parameters = {name: p.get("Default", "") for name, p in template.get("Parameters", {}).items()} | dict(
            parameters or {}
        )

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(name, argument)] = node.items()
            if name == "Ref" or name.startswith("Fn::") or name == "Condition":
                return self._intrinsic(name, argument)
        return {key: v for key, v in ((k, self(value)) for k, value in node.items()) if v is not NO_VALUE}

    def deployed(self, resource: str) -> bool:
        """Whether the resource exists in this deployment (its Condition, if any, holds)."""
        condition = self._template["Resources"][resource].get("Condition")
        return condition is None or self.condition(condition)

    def condition(self, name: str) -> bool:
        return bool(self._condition(self._template["Conditions"][name]))

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            [(name, argument)] = node.items()
            if name == "Fn::Equals":
                left, right = (self._condition(a) for a in argument)
                return left == right
            if name == "Fn::Not":
                return not self._condition(argument[0])
            if name == "Fn::And":
                return all(self._condition(a) for a in argument)
            if name == "Fn::Or":
                return any(self._condition(a) for a in argument)
            if name == "Condition":
                return self.condition(argument)
        return self(node)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            value = self._parameters[name]
            kind = self._template["Parameters"][name]["Type"]
            if kind == "CommaDelimitedList":
                return [] if value == "" else (value if isinstance(value, list) else str(value).split(","))
            return str(value)
        kind = self._template["Resources"][name]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self._region}.amazonaws.com/{self._account}/{self._name(name, 'QueueName')}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self._region}:{self._account}:{self._name(name, 'TopicName')}"
        if kind == "AWS::DynamoDB::Table":
            return self._names.get(name, f"{self._stack}-state")
        if kind == "AWS::Serverless::Function":
            return self._names.get(name, f"{self._stack}-{'enforcer' if name == 'EnforcerFunction' else 'sweep'}")
        return self._names.get(name, f"{self._stack}-{name}-ABC123")

    def _name(self, resource: str, name_property: str) -> str:
        """The resource's name: its name property where the template sets one, else the name CloudFormation
        generates (<stack>-<logical id>-<random>)."""
        if resource in self._names:
            return self._names[resource]
        given = self(self._template["Resources"][resource]["Properties"].get(name_property, {"Ref": "AWS::NoValue"}))
        return str(given) if given is not NO_VALUE else f"{self._stack}-{resource}-ABC123"

    def get_att(self, name: str, attribute: str) -> str:
        kind = self._template["Resources"][name]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{self._region}:{self._account}:{self._name(name, 'QueueName')}"
        if kind == "AWS::Events::Rule":
            rule = self._names.get(name, f"{self._stack}-{name}-ABC123")
            return f"arn:aws:events:{self._region}:{self._account}:rule/{rule}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{self._account}:role/{self._name(name, 'RoleName')}"
        if kind == "AWS::KMS::Key":
            if name in self._names:  # a key that exists: its ARN
                return self._names[name]
            return f"arn:aws:kms:{self._region}:{self._account}:key/{KEY_IDS[name]}"
        if kind == "AWS::DynamoDB::Table":
            return (
                f"arn:aws:dynamodb:{self._region}:{self._account}:table/{self._names.get(name, f'{self._stack}-state')}"
            )
        if kind == "AWS::Logs::LogGroup":
            group = self(self._template["Resources"][name]["Properties"]["LogGroupName"])
            return f"arn:aws:logs:{self._region}:{self._account}:log-group:{group}:*"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{self._region}:{self._account}:function:{self.ref(name)}"
        if kind == "AWS::Events::EventBus":  # a bus that exists: its ARN
            bus = self._names.get(name) or self(self._template["Resources"][name]["Properties"]["Name"])
            return bus if bus.startswith("arn:") else f"arn:aws:events:{self._region}:{self._account}:event-bus/{bus}"
        raise ValueError(f"Fn::GetAtt {name}.{attribute} is not modelled")

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.ref(argument)
        if name == "Fn::GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(resource, attribute)
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            values = {k: self(v) for k, v in variables.items()}

            def value(match: re.Match[str]) -> str:
                key = match.group(1)
                if key in values:
                    return str(values[key])
                if "." in key:
                    return self.get_att(*key.split(".", 1))
                resolved = self.ref(key)
                return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

            return re.sub(r"\$\{([\w:.]+)\}", value, text)
        if name == "Fn::Join":
            separator, items = argument
            resolved = self(items)
            flat = [x for item in resolved for x in (item if isinstance(item, list) else [item])]
            return separator.join(str(x) for x in flat)
        if name == "Fn::Split":
            separator, text = argument
            return str(self(text)).split(separator)
        if name == "Fn::Select":
            index, items = argument
            return self(items)[int(index)]
        if name == "Fn::If":
            condition, yes, no = argument
            return self(yes) if self.condition(condition) else self(no)
        raise ValueError(f"intrinsic {name} is not modelled")
