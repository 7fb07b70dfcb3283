"""How IAM evaluates a resource-based policy, for the subset of the policy language template.yaml uses.

Semantics from the IAM User Guide ("Policy evaluation logic", "IAM JSON policy elements: Condition operators"):
an explicit Deny in any matching statement wins; otherwise an Allow that matches grants (for a service principal,
only the resource policy can grant; a same-account IAM principal may also be granted by its own IAM policy).
Within a statement every condition operator, and every key under it, must hold. `...Equals`/`...Like` with several
values hold if any value matches; the negated `...NotEquals` hold if none does. A key missing from the request
makes a positive operator false and a negated one true. Operators this helper does not know raise.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    principal_arn: str | None = None  # aws:PrincipalArn (a role's ARN for its sessions); None for a service
    service: str | None = None  # the calling service principal, e.g. events.amazonaws.com
    context: Mapping[str, str] = field(default_factory=dict)  # aws:SourceArn, aws:SourceAccount, ...

    def key(self, name: str) -> str | None:
        if name == "aws:PrincipalArn":
            return self.principal_arn
        if name == "aws:PrincipalServiceName":
            return self.service
        return self.context.get(name)


def evaluate(statements: Sequence[Mapping[str, Any]], request: Request) -> str:
    """'Deny' (an explicit deny matches), 'Allow' (an allow matches, no deny) or 'None' (the policy is silent)."""
    matching = [s for s in statements if _applies(s, request)]
    if any(s["Effect"] == "Deny" for s in matching):
        return "Deny"
    return "Allow" if any(s["Effect"] == "Allow" for s in matching) else "None"


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _principal(statement.get("Principal"), request)
        and _any(statement["Action"], request.action)
        and _any(statement.get("Resource", "*"), request.resource)
        and all(_operator(op, keys, request) for op, keys in statement.get("Condition", {}).items())
    )


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _any(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in _listed(patterns))


def _principal(principal: Any, request: Request) -> bool:
    if principal is None:  # an identity policy or an SCP: it applies to whoever it is attached to
        return True
    if principal in ("*", {"AWS": "*"}):
        return True
    if not isinstance(principal, Mapping):
        raise ValueError(f"principal {principal!r} is not modelled")
    services = _listed(principal.get("Service", []))
    arns = _listed(principal.get("AWS", []))
    if request.service is not None:
        return request.service in services
    account_root = [a for a in arns if a.endswith(":root")]
    return request.principal_arn in arns or any(
        request.principal_arn and request.principal_arn.split(":")[4] == a.split(":")[4] for a in account_root
    )


def _operator(operator: str, keys: Mapping[str, Any], request: Request) -> bool:
    negated = "Not" in operator
    base = operator.replace("Not", "")
    for key, wanted in keys.items():
        value = request.key(key)
        if operator == "Null":  # "true": the key is absent; "false": it is present
            if (value is None) != (str(wanted).lower() == "true"):
                return False
            continue
        if value is None:
            if not negated:
                return False
            continue
        if base in ("StringEquals", "ArnEquals"):
            hit = value in _listed(wanted)
        elif base in ("StringLike", "ArnLike"):
            hit = _any(wanted, value)
        elif base == "Bool":
            hit = value.lower() in [w.lower() for w in _listed(wanted)]
        else:
            raise ValueError(f"condition operator {operator} is not modelled")
        if hit == negated:
            return False
    return True
