"""The evidence formats checked by their consumers' own validators: ASFF by botocore's parameter validator against
Security Hub's BatchImportFindings input shape, OCSF by py-ocsf-models (the OCSF models Prowler uses)."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.validate import ParamValidator
from py_ocsf_models import OCSF_VERSION as MODELS_OCSF_VERSION
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.objects.cloud import Cloud

ASFF_SHAPE = (
    botocore.session.get_session().get_service_model("securityhub").operation_model("BatchImportFindings").input_shape
)


def asff_problems(findings: list[dict[str, Any]]) -> str:
    report = ParamValidator().validate({"Findings": findings}, ASFF_SHAPE)
    return report.generate_report() if report.has_errors() else ""


def ocsf_problems(event: dict[str, Any]) -> list[str]:
    """What py-ocsf-models refuses, plus every field it does not know (pydantic would drop them silently): the event
    must be a Compliance Finding of the models' OCSF version, with nothing but the class's and its profiles' fields."""
    model = ComplianceFinding.model_validate(event)
    known = set(type(model).model_fields) | {"cloud"}  # the cloud profile's one attribute
    problems = [f"unknown top-level field {k}" for k in event if k not in known]
    if "cloud" in event:
        Cloud.model_validate(event["cloud"])
        problems += [] if "cloud" in event["metadata"].get("profiles", []) else ["cloud used, profile not declared"]
    problems += [] if event["metadata"]["version"] == MODELS_OCSF_VERSION else ["declares another OCSF version"]
    return problems
