"""The member template for an organisation roll-out, generated from template.yaml (the one source).

    python -m org.package build --version 1.2.0                 # dist/org/1.2.0/: member-template.json, functions.zip
    python -m org.package publish --version 1.2.0 --bucket-prefix acme-das-guard --regions us-east-1,eu-west-1

Why a generated template: a service-managed StackSet refuses templates with a `Transform` ("Transform is not
supported in SERVICE_MANAGED permission model"), so the SAM template is translated offline with aws-sam-translator
- the same library `sam deploy` runs in CloudFormation - into plain CloudFormation. The only change made before
translating is where the code comes from: Lambda reads code only from a bucket in the function's own region, so
every function's code is `s3://<ArtifactBucketPrefix>-<region>/das-guard/<version>/functions.zip`, one bucket per
region (`org/artifact-bucket.yaml`), and `publish` copies the same zip into each. Everything else - resources,
IAM, parameters, conditions - is template.yaml's, so the single-account `sam deploy` and the StackSet cannot drift
(tests/org/test_member_template.py proves it resource by resource).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
CODE = ROOT / "functions"
REQUIREMENTS = CODE / "requirements.txt"
DEPENDENCY_CACHE = ROOT / ".venv-tools" / "lambda-dependencies"
# Lambda's architecture -> the wheels pip may take for it (manylinux2014 is what Lambda's Amazon Linux 2023 runs)
WHEEL_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
DIST = ROOT / "dist" / "org"
ARTIFACT_KEY = "das-guard/{version}/functions.zip"
TEMPLATE_KEY = "das-guard/{version}/member-template.json"
# CloudFormation quotas a StackSet template must fit (CloudFormation User Guide, "Quotas"): a body passed by
# TemplateURL up to 1 MB (inline bodies are limited to 51,200 bytes, which this template exceeds: use the URL).
MAX_TEMPLATE_BYTES = 1_000_000
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same zip (and the same S3 ETag)


class PackageError(RuntimeError):
    """The member template cannot be produced or would be refused by CloudFormation."""


@dataclass(frozen=True)
class Package:
    version: str
    template: dict[str, Any]
    template_body: str
    code_dir: Path
    bundle_dependencies: bool

    @cached_property
    def code_zip(self) -> bytes:
        """Built when first asked for: installing the dependencies for Lambda's platform takes pip and a while."""
        dependencies = install_dependencies(lambda_platform(self.template)) if self.bundle_dependencies else None
        return zip_code(self.code_dir, dependencies)

    @property
    def code_sha256(self) -> str:
        return hashlib.sha256(self.code_zip).hexdigest()


def build(
    version: str, *, template_path: Path = TEMPLATE, code_dir: Path = CODE, bundle_dependencies: bool = True
) -> Package:
    """Translate template.yaml into the member template for `version`; its code zip bundles functions/requirements.txt
    (what `sam build` does for the single-account stack) unless `bundle_dependencies` is False - the local world's
    choice, which runs the handlers in-process and never executes the zip."""
    if not _VERSION.match(version):
        raise PackageError(f"version must look like 1.2.3, not {version!r}")
    template = member_template(_read_sam(template_path), version)
    body = json.dumps(template, indent=None, separators=(",", ":"), sort_keys=False)
    check_limits(template, body)
    return Package(
        version=version,
        template=template,
        template_body=body,
        code_dir=code_dir,
        bundle_dependencies=bundle_dependencies,
    )


def lambda_platform(template: dict[str, Any]) -> tuple[str, str]:
    """(Python version, wheel platform) of the template's functions, which must all agree."""
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    platforms = {(f["Runtime"].removeprefix("python"), WHEEL_PLATFORMS[f["Architectures"][0]]) for f in functions}
    if len(platforms) != 1:
        raise PackageError(f"the functions must share one runtime and architecture to share a zip: {sorted(platforms)}")
    return platforms.pop()


def install_dependencies(platform: tuple[str, str], requirements: Path = REQUIREMENTS) -> Path:
    """functions/requirements.txt installed for Lambda's Python and architecture (binary wheels only, no
    dependency resolution: the file is the full, pinned closure), cached by the file's hash."""
    python, wheel_platform = platform
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    target = DEPENDENCY_CACHE / f"python{python}-{wheel_platform}-{digest}"
    if target.is_dir():
        return target
    DEPENDENCY_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".partial", dir=DEPENDENCY_CACHE))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += ["--target", str(staging), "--platform", wheel_platform, "--python-version", python]
    command += ["--implementation", "cp", "--only-binary=:all:", "--no-deps", "-r", str(requirements)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our own pip
    if completed.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise PackageError(f"pip could not install {requirements.name} for Lambda: {completed.stderr.strip()[-500:]}")
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
    try:
        staging.rename(target)
    except OSError:  # another process (a parallel test worker) finished the same install first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _read_sam(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415 - a build-time dependency only

    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def member_template(sam: dict[str, Any], version: str) -> dict[str, Any]:
    """The SAM template translated to plain CloudFormation, code read from the region's artifact bucket."""
    from samtranslator.translator.transform import transform  # noqa: PLC0415 - a build-time dependency only

    source = copy.deepcopy(sam)
    source["Parameters"]["ArtifactBucketPrefix"] = {
        "Type": "String",
        "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,40}$",
        "Description": "Code buckets are <prefix>-<region> (org/artifact-bucket.yaml), one per region: Lambda "
        "reads code only from its own region.",
    }
    source.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    code = {
        "Bucket": {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"},
        "Key": ARTIFACT_KEY.format(version=version),
    }
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = dict(code)

    class NoManagedPolicies:  # the template attaches none; SAM would otherwise ask IAM for the list
        def load(self) -> dict[str, str]:
            return {}

    # The translator wants a region for pseudo-parameter resolution; it writes none into the output (checked
    # by check_limits: no literal region or account may be left in a template every account deploys).
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = previous or "us-east-1"
    try:
        translated = dict(transform(source, {}, NoManagedPolicies()))
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
    translated.pop("Transform", None)
    translated["Description"] = f"{translated.get('Description', '')} (member template {version}, from template.yaml)"
    translated.setdefault("Metadata", {})["DasGuard"] = {"Version": version, "GeneratedFrom": "template.yaml"}
    return translated


_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_REGION = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+-[0-9]\b")


def check_limits(template: dict[str, Any], body: str) -> None:
    """Refuse what CloudFormation or a StackSet would refuse, and anything tied to one account or region."""
    problems = []
    if "Transform" in template or "AWS::Serverless" in body:
        problems.append("a Transform or AWS::Serverless resource is left (service-managed StackSets refuse it)")
    if len(body.encode()) > MAX_TEMPLATE_BYTES:
        problems.append(f"{len(body.encode())} bytes, over CloudFormation's {MAX_TEMPLATE_BYTES} for a template URL")
    for section, limit in (("Resources", MAX_RESOURCES), ("Parameters", MAX_PARAMETERS), ("Outputs", MAX_OUTPUTS)):
        if len(template.get(section, {})) > limit:
            problems.append(f"{len(template[section])} {section.lower()}, over CloudFormation's {limit}")
    if accounts := sorted(set(_ACCOUNT.findall(body))):
        problems.append(f"literal account ids {accounts}: every member account deploys this template")
    if regions := sorted(set(_REGION.findall(body))):
        problems.append(f"literal regions {regions}: every region deploys this template")
    if problems:
        raise PackageError("; ".join(problems))


def zip_code(code_dir: Path, dependencies: Path | None = None) -> bytes:
    """The functions' code (das_guard/) and, when given, the installed dependencies at the zip's root (where Lambda
    puts /var/task, first on sys.path) - byte-for-byte reproducible."""
    files = {path.relative_to(code_dir).as_posix(): path for path in code_dir.rglob("*.py")}
    if dependencies is not None:
        files |= {path.relative_to(dependencies).as_posix(): path for path in dependencies.rglob("*") if path.is_file()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files.items()):
            if "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def write(package: Package, dist: Path | None = None) -> Path:
    """dist/org/<version>/: the template, the zip and a manifest with their checksums."""
    folder = (dist or DIST) / package.version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "member-template.json").write_text(package.template_body, encoding="utf-8")
    (folder / "functions.zip").write_bytes(package.code_zip)
    manifest = {
        "version": package.version,
        "template_bytes": len(package.template_body.encode()),
        "template_sha256": hashlib.sha256(package.template_body.encode()).hexdigest(),
        "resources": len(package.template["Resources"]),
        "parameters": len(package.template["Parameters"]),
        "code_key": ARTIFACT_KEY.format(version=package.version),
        "code_sha256": package.code_sha256,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def publish(package: Package, *, bucket_prefix: str, regions: Sequence[str], session: Any) -> str:
    """Copy the code into every region's bucket and the template into the first region's; return its URL
    (the central stack's MemberTemplateUrl)."""
    if not regions:
        raise PackageError("name at least one region")
    for region in regions:
        s3 = session.client("s3", region_name=region)
        s3.put_object(
            Bucket=f"{bucket_prefix}-{region}",
            Key=ARTIFACT_KEY.format(version=package.version),
            Body=package.code_zip,
            ChecksumAlgorithm="SHA256",
        )
    home = regions[0]
    session.client("s3", region_name=home).put_object(
        Bucket=f"{bucket_prefix}-{home}",
        Key=TEMPLATE_KEY.format(version=package.version),
        Body=package.template_body.encode(),
        ContentType="application/json",
    )
    return f"https://{bucket_prefix}-{home}.s3.{home}.amazonaws.com/{TEMPLATE_KEY.format(version=package.version)}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m org.package", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "publish"):
        command = commands.add_parser(name)
        command.add_argument("--version", required=True)
        if name == "publish":
            command.add_argument("--bucket-prefix", required=True)
            command.add_argument("--regions", required=True, help="comma separated; the first holds the template")
    args = parser.parse_args(argv)
    try:
        package = build(args.version)
    except PackageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    folder = write(package)
    print(
        f"{folder}/member-template.json: {len(package.template_body.encode()):,} bytes, "
        f"{len(package.template['Resources'])} resources, no Transform; functions.zip {len(package.code_zip):,} "
        f"bytes (sha256 {package.code_sha256[:12]})"
    )
    if args.command == "publish":
        import boto3  # noqa: PLC0415

        regions = [r.strip() for r in args.regions.split(",") if r.strip()]
        url = publish(package, bucket_prefix=args.bucket_prefix, regions=regions, session=boto3.Session())
        print(f"code in {len(regions)} region(s); MemberTemplateUrl={url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
