"""IAM in the local world: who may call what. moto enforces no resource policy (queue, topic, table) and identity
policies only when switched on for the whole process; AWS evaluates both on every request.

DAS Guard's defence against insiders rests on explicit Denies: the queue policy (nobody but DAS Guard's role eats
its events), the state table's policy (nobody but the role writes holds), the role's own
`OnlyDasGuardsFunctionsWearTheRole` (no other function's code wears it) - and an insider's own weapon is a Deny
attached to DAS Guard's role. IAM's rule for all of them (IAM User Guide, "Policy evaluation logic"): an explicit
Deny in any policy that applies - the caller's identity policies or the resource's policy - refuses the request.

This module enforces that rule on the local AWS (in-process and server alike) for the callers a scenario names:

- `as_principal(principal, access_key_id)` registers the access key of a role session (`Principal`: the role's
  ARN, and `lambda:SourceFunctionArn` when the session is a Lambda function's code calling). Requests signed with
  any other key are the local world's own hand (the scenario acting as AWS services and as the account's
  administrator) and are not evaluated: existing scenarios behave as before.
- For a registered caller, the role's inline and attached policies (moto's IAM) and the resource policy of the
  queue (SQS `Policy`), topic (SNS `Policy`) or table (DynamoDB resource policy) the request names are evaluated
  with `iam_policy.evaluate`; an explicit Deny refuses the request with the service's own error (SQS `AccessDenied`,
  SNS `AuthorizationError`, DynamoDB/KMS/Lambda/Logs `AccessDeniedException`, RDS/IAM `AccessDenied`).
- Allows are not modelled: a registered caller may do what no Deny forbids (the least-privilege suite measures DAS
  Guard's own Allows against the template, `tests/least_privilege.py`).
- A DynamoDB transaction is evaluated as its parts (a Put as dynamodb:PutItem on its table), as AWS does.
- `service_may(...)`: whether a resource policy lets an AWS service principal (EventBridge delivering to a topic)
  act, as the service would be told.
- `refusals()`: every request refused so far (who, action, resource), for scenarios to assert on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.responses import BaseResponse
from moto.dynamodb.models import dynamodb_backends
from moto.iam.models import iam_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from .iam_policy import Request, evaluate


@dataclass(frozen=True)
class Principal:
    """A role session: what IAM knows about the caller (aws:PrincipalArn is the role's ARN)."""

    role_arn: str
    session_name: str = "local"
    source_function_arn: str | None = None  # lambda:SourceFunctionArn: a Lambda function's code is calling

    @property
    def session_arn(self) -> str:
        account, role = self.role_arn.split(":")[4], self.role_arn.split("/")[-1]
        return f"arn:aws:sts::{account}:assumed-role/{role}/{self.session_name}"

    def context(self) -> dict[str, str]:
        return {"lambda:SourceFunctionArn": self.source_function_arn} if self.source_function_arn else {}


@dataclass(frozen=True)
class Refusal:
    principal: str  # the session's ARN
    action: str  # iam-style, e.g. sqs:ReceiveMessage
    resource: str
    by: str  # "identity policy" or "resource policy"


_lock = threading.Lock()
_principals: dict[str, Principal] = {}
_refusals: list[Refusal] = []


def as_principal(principal: Principal, access_key_id: str) -> None:
    """Requests signed with `access_key_id` are `principal`'s (and are evaluated)."""
    with _lock:
        _principals[access_key_id] = principal


def refusals() -> list[Refusal]:
    with _lock:
        return list(_refusals)


def forget_principals() -> None:
    """A new world: no caller is named any more, nothing has been refused."""
    with _lock:
        _principals.clear()
        _refusals.clear()


def service_may(service: str, action: str, resource: str, policy: Mapping[str, Any] | None, **context: str) -> bool:
    """Whether a resource policy lets AWS service principal `service` do `action` (a service is granted only by the
    resource's policy: no Allow for it, or a Deny, and the service is refused)."""
    if policy is None:
        return False
    request = Request(action=action, resource=resource, service=service, context=context)
    return evaluate(_statements(policy), request) == "Allow"


# --- the gate, in moto's authorisation hook ----------------------------------------------------------------
_models = botocore.session.get_session()
_PROTOCOLS: dict[str, str] = {}
_ERROR_CODES = {"sqs": "AccessDenied", "sns": "AuthorizationError", "iam": "AccessDenied", "rds": "AccessDenied"}


def authorising(original: Callable[..., None]) -> Callable[..., None]:
    """BaseResponse._authenticate_and_authorize_normal_action (where moto checks IAM when asked to), with the
    explicit-Deny rule for named callers added after moto's own check."""

    def authorise(self: BaseResponse, resource: str = "*") -> None:
        original(self, resource)
        principal = _caller(self)
        if principal is None:
            return
        service = self.boto3_service_name
        for action, arn in _requested(self, service, f"{service}:{self._get_action()}"):
            denied_by = _denied_by(principal, action, arn, self.current_account, self.region)
            if denied_by:
                with _lock:
                    _refusals.append(Refusal(principal.session_arn, action, arn, denied_by))
                raise _access_denied(
                    service,
                    f"User: {principal.session_arn} is not authorized to perform: "
                    f"{action} on resource: {arn} with an explicit deny in {denied_by}",
                )

    return authorise


def _caller(response: BaseResponse) -> Principal | None:
    authorization = response.headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        return None
    key = authorization.split("Credential=", 1)[1].split("/", 1)[0]
    with _lock:
        return _principals.get(key)


def _access_denied(service: str, message: str) -> Exception:
    protocol = _PROTOCOLS.get(service)
    if protocol is None:
        protocol = _PROTOCOLS[service] = str(_models.get_service_model(service).metadata["protocol"])
    code = _ERROR_CODES.get(service, "AccessDeniedException")
    error: Any = JsonRESTError(code, message) if protocol in ("json", "rest-json") else _RESTError(code, message)
    error.code = 400 if protocol in ("json", "rest-json") else 403
    return error  # type: ignore[no-any-return]


# A DynamoDB transaction is authorised as its parts, each on its own table (DynamoDB developer guide, "Using IAM
# with DynamoDB transactions"): a Put inside TransactWriteItems is a dynamodb:PutItem to IAM and to a Deny.
_TRANSACTION_PARTS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _requested(response: BaseResponse, service: str, action: str) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs the request is authorised as."""
    if action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
        table = f"arn:aws:dynamodb:{response.region}:{response.current_account}:table/"
        return [
            (f"dynamodb:{_TRANSACTION_PARTS[kind]}", table + str(part.get("TableName", "")))
            for item in response._get_param("TransactItems") or []
            for kind, part in item.items()
            if kind in _TRANSACTION_PARTS and isinstance(part, dict)
        ]
    return [(action, arn) for arn in _resources(response, service) or ["*"]]


def _resources(response: BaseResponse, service: str) -> list[str]:
    """The ARNs of the queue, topic or table the request names (others: none, evaluated as `*`)."""
    region, account = response.region, response.current_account
    if service == "sqs" and (url := response._get_param("QueueUrl")):
        return [f"arn:aws:sqs:{region}:{url.rstrip('/').split('/')[-2]}:{url.rstrip('/').split('/')[-1]}"]
    if service == "sns":
        arn = response._get_param("TopicArn") or response._get_param("TargetArn")
        return [arn] if arn else []
    if service == "dynamodb":
        tables = [response._get_param("TableName"), *(response._get_param("RequestItems") or {}).keys()]
        return [f"arn:aws:dynamodb:{region}:{account}:table/{t}" for t in tables if t]
    if service == "rds" and (arn := response._get_param("ResourceArn")):
        return [arn]
    return []


def _denied_by(principal: Principal, action: str, resource: str, account: str, region: str) -> str | None:
    request = Request(action=action, resource=resource, principal_arn=principal.role_arn, context=principal.context())
    if evaluate(list(_identity_statements(principal.role_arn)), request) == "Deny":
        return "an identity-based policy"
    policy = _resource_policy(resource, account, region)
    if policy is not None and evaluate(_statements(policy), request) == "Deny":
        return "a resource-based policy"
    return None


def _identity_statements(role_arn: str) -> Iterable[Mapping[str, Any]]:
    account = role_arn.split(":")[4]
    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - a role moto does not know has no policies to evaluate
        return []
    documents = list(role.policies.values()) + [
        next(v.document for v in p.versions if v.is_default) for p in role.managed_policies.values()
    ]
    return [s for document in documents for s in _statements(document)]


def _resource_policy(resource: str, account: str, region: str) -> Mapping[str, Any] | str | None:
    parts = resource.split(":")
    if len(parts) < 6:
        return None
    service, name = parts[2], parts[5]
    if service == "sqs":
        queue = sqs_backends[account][region].queues.get(name)
        return queue.policy if queue is not None else None
    if service == "sns":
        topic = sns_backends[account][region].topics.get(resource)
        return topic.policy if topic is not None else None
    if service == "dynamodb":
        policy = dynamodb_backends[account][region].resource_policies.get(resource)
        return policy.policy_doc if policy is not None else None
    return None


def _statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    statements = parsed.get("Statement", [])
    listed = statements if isinstance(statements, list) else [statements]
    # a statement this model cannot read (NotAction, NotResource, NotPrincipal) is refused loudly, never skipped
    for statement in listed:
        if unread := {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
            raise ValueError(f"policy element(s) {sorted(unread)} are not modelled by the local IAM")
    return listed
