"""Starts moto's stand-alone server after patching the gaps the AWS provider 5.100.0 trips over.

Usage: python3 tools/emulator/moto_launcher.py -H 127.0.0.1 -p PORT

Written for moto 5.2.1 (a warning is printed for any other version). Each patch below is one
function whose docstring names the gap it fills (see the shared notes, "Terraform against the local
AWS emulator"). Every patch makes moto answer the way AWS does; none relaxes a check the product
relies on. The product is never changed to suit the emulator; only the emulator is. One patch adds
what AWS lacks and only the sandbox uses: VPCs and subnets created with a chosen id
(patch_ec2_vpc_subnet_custom_ids, through moto's own `_custom_id_` tag convention).
"""
import json
import re
import sys
from typing import Any, Callable

MOTO_VERSION = "5.2.1"


def _backend_state(backend: Any, name: str, factory: Callable[[], Any]) -> Any:
    """Per-backend (account and region) storage for what a patch keeps."""
    if not hasattr(backend, name):
        setattr(backend, name, factory())
    return getattr(backend, name)


# --- CodeCommit -----------------------------------------------------------------------------------


def patch_codecommit_epoch_dates() -> None:
    """Gap: CodeCommit returns `creationDate`/`lastModifiedDate` as ISO strings, where the AWS API
    (and the Go SDK) expect epoch seconds; the provider fails to decode CreateRepository's answer."""
    from moto.codecommit import models
    from moto.core.utils import unix_time

    original_init = models.CodeCommit.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        now = unix_time()
        self.repository_metadata["creationDate"] = now
        self.repository_metadata["lastModifiedDate"] = now

    models.CodeCommit.__init__ = __init__


def _codecommit_repository_by_arn(backend: Any, arn: str) -> Any:
    from moto.codecommit.exceptions import RepositoryDoesNotExistException

    for repo in backend.repositories.values():
        if repo.repository_metadata["Arn"] == arn:
            return repo
    raise RepositoryDoesNotExistException(arn)


def patch_codecommit_tags() -> None:
    """Gap: CodeCommit has no `ListTagsForResource`, `TagResource`, `UntagResource`, and ignores the
    `tags` of CreateRepository; the provider reads tags after every create and refresh."""
    from moto.codecommit.responses import CodeCommitResponse

    def tags_of(self: Any) -> dict:
        return _backend_state(self.codecommit_backend, "_launcher_tags", dict)

    original_create = CodeCommitResponse.create_repository
    original_delete = CodeCommitResponse.delete_repository

    def create_repository(self: Any) -> str:
        body = original_create(self)
        arn = json.loads(body)["repositoryMetadata"]["Arn"]
        tags_of(self)[arn] = dict(self._get_param("tags") or {})
        return body

    def delete_repository(self: Any) -> str:
        name = self._get_param("repositoryName")
        repo = self.codecommit_backend.repositories.get(name)
        if repo is not None:
            tags_of(self).pop(repo.repository_metadata["Arn"], None)
        return original_delete(self)

    def list_tags_for_resource(self: Any) -> str:
        arn = self._get_param("resourceArn")
        _codecommit_repository_by_arn(self.codecommit_backend, arn)
        return json.dumps({"tags": tags_of(self).get(arn, {})})

    def tag_resource(self: Any) -> str:
        arn = self._get_param("resourceArn")
        _codecommit_repository_by_arn(self.codecommit_backend, arn)
        tags_of(self).setdefault(arn, {}).update(self._get_param("tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        arn = self._get_param("resourceArn")
        _codecommit_repository_by_arn(self.codecommit_backend, arn)
        for key in self._get_param("tagKeys") or []:
            tags_of(self).get(arn, {}).pop(key, None)
        return "{}"

    CodeCommitResponse.create_repository = create_repository
    CodeCommitResponse.delete_repository = delete_repository
    CodeCommitResponse.list_tags_for_resource = list_tags_for_resource
    CodeCommitResponse.tag_resource = tag_resource
    CodeCommitResponse.untag_resource = untag_resource


def patch_codecommit_update_description() -> None:
    """Gap: CodeCommit has no `UpdateRepositoryDescription` (an in-place update of the description)."""
    from moto.codecommit.responses import CodeCommitResponse
    from moto.core.utils import unix_time

    def update_repository_description(self: Any) -> str:
        metadata = self.codecommit_backend.get_repository(self._get_param("repositoryName"))
        metadata["repositoryDescription"] = self._get_param("repositoryDescription")
        metadata["lastModifiedDate"] = unix_time()
        return "{}"

    CodeCommitResponse.update_repository_description = update_repository_description


def patch_codecommit_list_repositories() -> None:
    """Gap: CodeCommit has no `ListRepositories` (HTTP 500); the suite lists the repositories left
    after `terraform destroy`."""
    from moto.codecommit.responses import CodeCommitResponse

    def list_repositories(self: Any) -> str:
        repositories = sorted(
            (
                {"repositoryName": r.repository_metadata["repositoryName"], "repositoryId": r.repository_metadata["repositoryId"]}
                for r in self.codecommit_backend.repositories.values()
            ),
            key=lambda r: r["repositoryName"],
        )
        return json.dumps({"repositories": repositories})

    CodeCommitResponse.list_repositories = list_repositories


# --- CodeBuild ------------------------------------------------------------------------------------

# Project fields AWS stores and returns that moto's CreateProject drops.
_CODEBUILD_UNMODELLED_FIELDS = (
    "fileSystemLocations",
    "concurrentBuildLimit",
    "secondarySources",
    "secondarySourceVersions",
    "secondaryArtifacts",
    "buildBatchConfig",
    "encryptionKey",
)


def patch_codebuild_no_source_location() -> None:
    """Gap: CodeBuild rejects source type `NO_SOURCE` (and `CODEPIPELINE`) without
    `source.location`, which AWS does not require and the provider forbids for `NO_SOURCE`."""
    from moto.codebuild import responses

    original = responses._validate_required_params_source

    def validate_source(source: dict) -> None:
        if source.get("type") in ("NO_SOURCE", "CODEPIPELINE") and not source.get("location"):
            source = {**source, "location": "(none)"}  # checked without it, stored as given
        original(source)

    responses._validate_required_params_source = validate_source


def patch_codebuild_unmodelled_fields() -> None:
    """Gap: CodeBuild CreateProject does not store `fileSystemLocations` and `concurrentBuildLimit`
    (nor a few other fields), so every plan after apply shows a perpetual diff on them; it also does
    not return `projectVisibility` (PRIVATE unless changed)."""
    from moto.codebuild.responses import CodeBuildResponse

    original_create = CodeBuildResponse.create_project

    def create_project(self: Any) -> str:
        body = original_create(self)
        metadata = self.codebuild_backend.codebuild_projects[self._get_param("name")].project_metadata
        for field in _CODEBUILD_UNMODELLED_FIELDS:
            value = self._get_param(field)
            if value is not None:
                metadata[field] = value
        metadata.setdefault("projectVisibility", "PRIVATE")
        return json.dumps({"project": metadata})

    CodeBuildResponse.create_project = create_project


def _codebuild_project(backend: Any, name_or_arn: str) -> Any:
    from moto.codebuild.exceptions import ResourceNotFoundException

    for name, project in backend.codebuild_projects.items():
        if name_or_arn in (name, project.arn):
            return project
    raise ResourceNotFoundException(f"Project cannot be found: {name_or_arn}")


def patch_codebuild_update_project() -> None:
    """Gap: CodeBuild has no `UpdateProject` (and no `UpdateProjectVisibility`): every in-place
    change of a project fails."""
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.utils import unix_time

    def update_project(self: Any) -> str:
        project = _codebuild_project(self.codebuild_backend, self._get_param("name"))
        metadata = project.project_metadata
        request = json.loads(self.body or "{}")
        for key, value in request.items():
            if key == "name":
                continue
            if key == "badgeEnabled":
                metadata["badge"] = {"badgeEnabled": bool(value)}
            elif key == "concurrentBuildLimit" and value == -1:  # -1 removes the limit
                metadata.pop("concurrentBuildLimit", None)
            elif key == "tags":
                metadata["tags"] = value
                project.tags = value
            elif key == "serviceRole":
                metadata["serviceRole"] = value
                project.service_role = value
            else:
                metadata[key] = value
        metadata["lastModifiedDate"] = unix_time()
        return json.dumps({"project": metadata})

    def update_project_visibility(self: Any) -> str:
        project = _codebuild_project(self.codebuild_backend, self._get_param("projectArn"))
        project.project_metadata["projectVisibility"] = self._get_param("projectVisibility")
        return json.dumps(
            {"projectArn": project.arn, "projectVisibility": project.project_metadata["projectVisibility"]}
        )

    CodeBuildResponse.update_project = update_project
    CodeBuildResponse.update_project_visibility = update_project_visibility


def patch_codebuild_delete_by_arn() -> None:
    """Gap: CodeBuild `DeleteProject` called with the project ARN (as the provider does) deletes
    nothing, so the project survives `terraform destroy`; and when the ARN is 150 characters or
    longer (a project name past ~95 characters) moto refuses it with InvalidInputException, applying
    the project name's length limit to the ARN (AWS's DeleteProject takes the name or the ARN)."""
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    def delete_project_response(self: Any) -> str:
        name = self._get_param("name")
        for project_name, project in self.codebuild_backend.codebuild_projects.items():
            if name == project.arn:
                self.codebuild_backend.delete_project(project_name)
                return "{}"
        return original_response(self)

    original_response = CodeBuildResponse.delete_project
    CodeBuildResponse.delete_project = delete_project_response

    original_delete = CodeBuildBackend.delete_project

    def delete_project(self: Any, project_name: str) -> None:
        for name, project in list(self.codebuild_projects.items()):
            if project_name == project.arn:
                project_name = name
        original_delete(self, project_name)
        self.build_history.pop(project_name, None)

    CodeBuildBackend.delete_project = delete_project


# --- EFS ------------------------------------------------------------------------------------------


def patch_efs_put_backup_policy() -> None:
    """Gap: EFS has no `PutBackupPolicy` (HTTP 500, which the SDK retries for minutes), and
    `DescribeBackupPolicy` answers PolicyNotFound for a DISABLED policy instead of returning it."""
    from moto.efs.models import FileSystem
    from moto.efs.responses import EFSResponse

    def backup_policy(self: Any) -> dict:
        explicit = getattr(self, "_launcher_backup_status", None)
        if explicit is not None:
            return {"Status": explicit}
        return {"Status": "ENABLED"} if self._backup else None

    def put_backup_policy(self: Any) -> Any:
        file_system_id = self._get_param("FileSystemId")
        status = (self._get_param("BackupPolicy") or {}).get("Status", "DISABLED")
        _, file_systems = self.efs_backend.describe_file_systems(file_system_id=file_system_id)
        file_system = file_systems[0]
        file_system._launcher_backup_status = status
        file_system._backup = status == "ENABLED"
        return json.dumps({"BackupPolicy": {"Status": status}}), {"Content-Type": "application/json"}

    FileSystem.backup_policy = property(backup_policy)
    EFSResponse.put_backup_policy = put_backup_policy


def patch_efs_update_file_system() -> None:
    """Gap: EFS has no `UpdateFileSystem` (HTTP 500), which the provider calls to change a file
    system's throughput mode in place (an existing stack moving from bursting to elastic). As AWS
    (Amazon EFS API Reference, UpdateFileSystem): the answer is the file system's description with
    HTTP 202; `TooManyRequests` (HTTP 429) when the throughput mode changes again within 24 hours
    ("Returned if you don't wait at least 24 hours before either changing the throughput mode, or
    decreasing the Provisioned Throughput value")."""
    import time

    from moto.efs.responses import EFSResponse

    def update_file_system(self: Any) -> Any:
        file_system_id = self._get_param("FileSystemId")
        _, file_systems = self.efs_backend.describe_file_systems(file_system_id=file_system_id)
        file_system = file_systems[0]
        mode = self._get_param("ThroughputMode")
        if mode is not None and mode != file_system.throughput_mode:
            changed = getattr(file_system, "_launcher_throughput_changed_at", None)
            if changed is not None and time.time() - changed < 24 * 3600:
                body = {"ErrorCode": "TooManyRequests", "Message": "the throughput mode changed less than 24 hours ago"}
                return json.dumps(body), {"status": 429, "Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequests"}
            file_system.throughput_mode = mode
            file_system._launcher_throughput_changed_at = time.time()
        provisioned = self._get_param("ProvisionedThroughputInMibps")
        if provisioned is not None:
            file_system.provisioned_throughput_in_mibps = provisioned
        return json.dumps(file_system.info_json()), {"status": 202, "Content-Type": "application/json"}

    EFSResponse.update_file_system = update_file_system


# No patch needed: AWS allows one mount target per Availability Zone and file system, and refuses a
# second one with `MountTargetConflict`, HTTP 409, "mount target already exists in this AZ"
# (CreateMountTarget, Amazon EFS API Reference:
# https://docs.aws.amazon.com/efs/latest/ug/API_CreateMountTarget.html). Stock moto 5.2.1 already
# answers exactly that (moto.efs.models.FileSystem.add_mount_target); the integration suite's
# emulator-quotas test proves it stays so.


# --- EC2 ----------------------------------------------------------------------------------------


def patch_ec2_referenced_rule_description() -> None:
    """Gap: EC2 `DescribeSecurityGroupRules` drops the description of a rule that references another
    security group (it reads only the CIDR range's description), so every plan after apply wants to
    set `description` again on `aws_vpc_security_group_{ingress,egress}_rule` with
    `referenced_security_group_id`."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> Any:
        return self.ip_range.get("Description") or (self.source_group or {}).get("Description")

    SecurityGroupRule.description = property(description)


def patch_ec2_nat_gateway_releases_interface() -> None:
    """Gap: EC2 `DeleteNatGateway` only marks the NAT gateway `deleted`: its network interface (which
    holds the Elastic IP) stays behind, so after `terraform destroy` an ENI is left in a subnet that no
    longer exists. AWS deletes the gateway's requester-managed interface and disassociates the
    Elastic IP (the allocation itself is kept until released)."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    original_delete = NatGatewayBackend.delete_nat_gateway

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        nat_gw = original_delete(self, nat_gateway_id)
        eni = getattr(nat_gw, "_eni", None)
        if eni is not None and eni.id in self.enis:
            for eip in list(self.addresses):
                if eip.eni is eni:
                    self.disassociate_address(address=eip.public_ip)
            self.delete_network_interface(eni.id)
            for address in nat_gw.address_set:
                address.pop("associationId", None)
        return nat_gw

    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway


def patch_ec2_vpc_subnet_custom_ids() -> None:
    """Not an AWS behaviour but the sandbox's need: `npm run sandbox:up` rehearses a configuration
    whose `network` names an existing VPC and subnets by id (`vpc-0123…`, `subnet-0abc…`), so it must
    create them in the emulator with those very ids. AWS lets no one choose an id; moto lets a
    resource be given one with its `_custom_id_` tag (moto.utilities.id_generator, "Custom IDs"),
    but its EC2 VPCs and subnets ignore that tag (they call `random_vpc_id`/`random_subnet_id`).
    Here CreateVpc and CreateSubnet honour it: a `_custom_id_` tag becomes the id, unless a VPC or
    subnet already has it (then a random id, as moto's convention does; the caller checks the id it
    got). Without the tag nothing changes."""
    import moto.ec2.models.subnets as subnets
    import moto.ec2.models.vpcs as vpcs
    from moto.utilities.id_generator import TAG_KEY_CUSTOM_ID

    def tag_value(tags: Any) -> Any:
        # CreateVpc passes [{"Key", "Value"}]; CreateSubnet {"subnet": {key: value}}.
        if isinstance(tags, list):
            return next((t.get("Value") for t in tags if t.get("Key") == TAG_KEY_CUSTOM_ID), None)
        if isinstance(tags, dict):
            return next((v.get(TAG_KEY_CUSTOM_ID) for v in tags.values() if isinstance(v, dict) and TAG_KEY_CUSTOM_ID in v), None)
        return None

    def with_custom_id(module: Any, generator: str, taken: Callable[[Any, str], bool], original: Callable[..., Any]) -> Callable[..., Any]:
        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            wanted = tag_value(kwargs.get("tags"))
            if wanted is None or taken(self, wanted):
                return original(self, *args, **kwargs)
            random_id = getattr(module, generator)
            setattr(module, generator, lambda: wanted)
            try:
                return original(self, *args, **kwargs)
            finally:
                setattr(module, generator, random_id)

        return create

    vpcs.VPCBackend.create_vpc = with_custom_id(vpcs, "random_vpc_id", lambda b, i: i in b.vpcs, vpcs.VPCBackend.create_vpc)
    subnets.SubnetBackend.create_subnet = with_custom_id(
        subnets, "random_subnet_id", lambda b, i: any(i in zone for zone in b.subnets.values()), subnets.SubnetBackend.create_subnet
    )


# --- API Gateway ----------------------------------------------------------------------------------


def patch_apigateway_policy_escaping() -> None:
    """Gap: API Gateway returns a REST API's `policy` unescaped; AWS returns it JSON-escaped (quotes
    as \\"), which the provider unescapes: moto's form breaks the read of
    `aws_api_gateway_rest_api_policy` and every later refresh of the API."""
    from moto.apigateway.models import RestAPI

    original_to_dict = RestAPI.to_dict

    def to_dict(self: Any) -> dict:
        result = original_to_dict(self)
        policy = result.get(RestAPI.PROP_POLICY)
        if policy:
            result[RestAPI.PROP_POLICY] = json.dumps(policy)[1:-1]
        return result

    RestAPI.to_dict = to_dict


# --- S3: aws:SecureTransport (added for the sandbox, npm run sandbox:up) ---------------------------


def patch_s3_secure_transport() -> None:
    """Gap: moto evaluates a bucket policy's object-level conditions without any request context and
    knows no `Bool` operator, so it ignores the condition and applies the statement: a TLS-only
    policy (`Deny` when `aws:SecureTransport` is `false`) denies every object request, over HTTPS as
    over HTTP (this is the 403 of `terraform init` on the state bucket); and a statement whose
    condition does not match is answered DENIED whatever its effect. AWS denies plain HTTP and allows
    HTTPS. The patch gives moto the `Bool` operator, the request's transport (`https` when the server
    runs with --ssl-cert/--ssl-key) and skips statements whose condition does not match."""
    import threading
    from urllib.parse import urlparse

    from moto.iam import policy_conditions
    from moto.s3 import models
    from moto.s3.responses import S3Response

    transport = threading.local()  # the server is threaded: one request per thread at a time

    def bool_operation(expected: Any, actual: str) -> bool:
        values = expected if isinstance(expected, list) else [expected]
        return any(str(v).lower() == actual.lower() for v in values)

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", bool_operation)

    original_setup = S3Response.setup_class

    def setup_class(self: Any, request: Any, full_url: str, headers: Any) -> None:
        transport.secure = urlparse(full_url).scheme == "https"
        original_setup(self, request, full_url, headers)

    def get_permission(self: Any, action: str, resource: str) -> Any:
        # moto's own evaluation answers DENIED when a statement's condition does not match, whatever
        # its effect; AWS skips such a statement. Evaluate each statement here: conditions first
        # (with the request's context), then the statement without them; Deny wins over Allow.
        from moto.iam.access_control import IAMPolicyStatement, PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        context = {"aws:SecureTransport": "true" if getattr(transport, "secure", False) else "false"}
        statements = json.loads(self.policy.decode())["Statement"]
        permitted = False
        for statement in statements if isinstance(statements, list) else [statements]:
            condition = statement.get("Condition")
            if condition and not IAMPolicyStatement(statement)._check_conditions(context):
                continue
            plain = {k: v for k, v in statement.items() if k != "Condition"}
            result = IAMPolicyStatement(plain).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    S3Response.setup_class = setup_class
    models.FakeBucket.get_permission = get_permission


def patch_s3_delete_marker_dispose() -> None:
    """Gap: deleting the last versions of a key in a versioned bucket (DeleteObjects, as the provider's
    `force_destroy` empties the stack's versioned bucket) makes moto free every version of the key,
    and a delete marker has no `dispose`: HTTP 500 (AttributeError 'FakeDeleteMarker' object has no
    attribute 'dispose'). A delete marker holds no data; freeing it is nothing."""
    from moto.s3 import models

    if not hasattr(models.FakeDeleteMarker, "dispose"):
        models.FakeDeleteMarker.dispose = lambda self, garbage=False: None


# --- Read by `npm run status` (issue 12) ----------------------------------------------------------


def patch_codecommit_branches_for_status() -> None:
    """Gap: CodeCommit has no `CreateBranch`, `GetBranch` or `UpdateDefaultBranch`, and GetRepository
    never returns `defaultBranch`; `npm run status` reads the default branch's head. moto keeps no
    git objects, so CreateBranch takes the commit id as given (AWS checks that the commit exists)
    and, as in AWS, creating a branch does not make it the default (CodeCommit API reference,
    CreateBranch: "does not set a repository's default branch")."""
    from moto.codecommit.responses import CodeCommitResponse
    from moto.core.exceptions import JsonRESTError

    def branches_of(self: Any, name: str) -> dict:
        self.codecommit_backend.get_repository(name)  # RepositoryDoesNotExistException
        return _backend_state(self.codecommit_backend, "_launcher_branches", dict).setdefault(name, {})

    def create_branch(self: Any) -> str:
        branches = branches_of(self, self._get_param("repositoryName"))
        name = self._get_param("branchName")
        if name in branches:
            raise JsonRESTError("BranchNameExistsException", f"Branch {name} already exists")
        branches[name] = self._get_param("commitId")
        return "{}"

    def get_branch(self: Any) -> str:
        branches = branches_of(self, self._get_param("repositoryName"))
        name = self._get_param("branchName")
        if name not in branches:
            raise JsonRESTError("BranchDoesNotExistException", f"Branch {name} does not exist")
        return json.dumps({"branch": {"branchName": name, "commitId": branches[name]}})

    def update_default_branch(self: Any) -> str:
        repository = self._get_param("repositoryName")
        name = self._get_param("defaultBranchName")
        if name not in branches_of(self, repository):
            raise JsonRESTError("BranchDoesNotExistException", f"Branch {name} does not exist")
        self.codecommit_backend.get_repository(repository)["defaultBranch"] = name
        return "{}"

    CodeCommitResponse.create_branch = create_branch
    CodeCommitResponse.get_branch = get_branch
    CodeCommitResponse.update_default_branch = update_default_branch


def _codebuild_epoch_times(build: dict) -> dict:
    from moto.core.parse import default_timestamp_parser

    def epoch(value: Any) -> Any:
        return default_timestamp_parser(value).timestamp() if isinstance(value, str) else value

    out = {**build, "phases": [dict(p) for p in build.get("phases", [])]}
    for item in [out, *out["phases"]]:
        for key in ("startTime", "endTime"):
            if key in item:
                item[key] = epoch(item[key])
    return out


def patch_codebuild_builds_for_status() -> None:
    """Gaps `npm run status` meets reading sync builds:
    - build times are ISO strings where the API returns epoch seconds, so the JS SDK v3 cannot
      decode StartBuild or BatchGetBuilds ("Expected real number");
    - ListBuildsForProject returns the oldest build first and never pages, where AWS without
      `sortOrder` returns the newest first, at most 100 ids and a `nextToken` (CodeBuild API
      reference, ListBuildsForProject);
    - no build runs here, so none ever fails: `POST /moto-api/static/codebuild/build-results` with
      `{"region", "builds": [{"projectName", "buildStatus", "startTime", "endTime", "phases",
      "logs"}]}` (epoch seconds; no endTime while IN_PROGRESS; optional `phases`: [{"phaseType",
      "durationInSeconds", "phaseStatus", "contexts"}], optional `logs`: {"groupName",
      "streamName"}) records finished builds, in the manner of moto's other
      `/moto-api/static/...` result setters. BatchGetBuilds returns a recorded build as recorded
      (moto otherwise marks every build it is asked about SUCCEEDED)."""
    from moto.codebuild.models import CodeBuildBackend, codebuild_backends
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.utils import iso_8601_datetime_with_milliseconds
    from moto.moto_api._internal import urls
    import datetime

    original_start = CodeBuildResponse.start_build
    original_batch = CodeBuildBackend.batch_get_builds

    def start_build(self: Any) -> str:
        body = json.loads(original_start(self))
        return json.dumps({**body, "build": _codebuild_epoch_times(body["build"])})

    def batch_get_builds(self: Any, ids: list) -> list:
        recorded = _backend_state(self, "_launcher_recorded_builds", dict)
        others = [i for i in ids if i not in recorded]
        by_id = {b["id"]: b for b in original_batch(self, others)} if others else {}
        by_id.update({i: recorded[i] for i in ids if i in recorded})
        return [_codebuild_epoch_times(by_id[i]) for i in ids if i in by_id]

    def list_builds_for_project(self: Any) -> str:
        name = self._get_param("projectName")
        if name not in self.codebuild_backend.codebuild_projects:
            from moto.codebuild.exceptions import ResourceNotFoundException

            raise ResourceNotFoundException(f"The provided project {name} does not exist")
        ids = list(self.codebuild_backend.list_builds_for_project(name))
        if self._get_param("sortOrder") != "ASCENDING":
            ids.reverse()
        start = int(self._get_param("nextToken") or 0)
        page = {"ids": ids[start : start + 100]}
        if start + 100 < len(ids):
            page["nextToken"] = str(start + 100)
        return json.dumps(page)

    def iso(seconds: float) -> str:
        return iso_8601_datetime_with_milliseconds(datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None))

    def set_build_results(request: Any, full_url: str, headers: Any) -> tuple:
        body = json.loads(request.get_data() or b"{}")
        backend = codebuild_backends[body.get("account_id", "123456789012")][body.get("region", "us-east-1")]
        recorded = _backend_state(backend, "_launcher_recorded_builds", dict)
        ids = []
        for spec in body.get("builds", []):
            if spec["projectName"] not in backend.codebuild_projects:
                return 400, {}, json.dumps({"message": f"no project {spec['projectName']}"})
            build = backend.start_build(spec["projectName"])
            done = spec["buildStatus"] != "IN_PROGRESS"
            build.update(
                buildStatus=spec["buildStatus"],
                startTime=iso(spec["startTime"]),
                currentPhase="COMPLETED" if done else "BUILD",
                buildComplete=done,
            )
            if done:
                build["endTime"] = iso(spec["endTime"])
            if spec.get("phases"):
                # Each phase as AWS reports it (CodeBuild API reference, BuildPhase: phaseType,
                # phaseStatus, durationInSeconds, contexts), laid end to end from startTime.
                at = spec["startTime"]
                phases = []
                for p in spec["phases"]:
                    seconds = int(p.get("durationInSeconds", 0))
                    phase = {"phaseType": p["phaseType"], "phaseStatus": p.get("phaseStatus", "SUCCEEDED"), "startTime": iso(at), "endTime": iso(at + seconds), "durationInSeconds": seconds}
                    if p.get("contexts"):
                        phase["contexts"] = p["contexts"]
                    phases.append(phase)
                    at += seconds
                build["phases"] = phases
            if spec.get("logs"):
                build["logs"] = {**(build.get("logs") or {}), "groupName": spec["logs"]["groupName"], "streamName": spec["logs"]["streamName"]}
            recorded[build["id"]] = build
            ids.append(build["id"])
        return 201, {"Content-Type": "application/json"}, json.dumps({"ids": ids})

    CodeBuildResponse.start_build = start_build
    CodeBuildBackend.batch_get_builds = batch_get_builds
    CodeBuildResponse.list_builds_for_project = list_builds_for_project
    urls.url_paths["{0}/moto-api/static/codebuild/build-results"] = set_build_results


def patch_codebuild_scripted_build_outcomes() -> None:
    """Gap: no build runs here, and moto's BatchGetBuilds marks a build started by StartBuild
    SUCCEEDED the first time it is asked about it, so `npm run sync -- --wait` could never be seen
    waiting, nor a started build failing. `POST /moto-api/static/codebuild/build-outcomes` with
    `{"region", "projectName", "outcomes": [{"buildStatus", "inProgressPolls", "phaseType",
    "statusCode", "message", "logGroupName", "logStreamName"}]}` scripts the next StartBuilds of the
    project, in order: such a build
    answers IN_PROGRESS (currentPhase BUILD) to its first `inProgressPolls` BatchGetBuilds, then
    ends with `buildStatus`; a build that did not succeed has its `phaseType` phase (default BUILD)
    ended with that status and `contexts: [{"statusCode", "message"}]`, as AWS reports a failed
    phase (CodeBuild API reference, BuildPhase: "contexts", PhaseContext: "statusCode",
    "message"), and its `logs` name the log group and stream given (LogsLocation: "groupName",
    "streamName"; moto names none). A build with no scripted outcome is stock moto's. Builds recorded through
    `build-results` (patch_codebuild_builds_for_status) never take a scripted outcome."""
    from moto.codebuild.models import CodeBuildBackend, codebuild_backends
    from moto.codebuild.responses import CodeBuildResponse
    from moto.core.utils import iso_8601_datetime_with_milliseconds
    from moto.moto_api._internal import urls

    original_start = CodeBuildResponse.start_build
    original_batch = CodeBuildBackend.batch_get_builds

    def start_build(self: Any) -> str:
        body = original_start(self)
        scripted = _backend_state(self.codebuild_backend, "_launcher_scripted_outcomes", dict)
        queue = scripted.get(self._get_param("projectName")) or []
        if queue:
            outcome = dict(queue.pop(0))
            outcome["inProgressPolls"] = int(outcome.get("inProgressPolls") or 0)
            _backend_state(self.codebuild_backend, "_launcher_build_outcomes", dict)[json.loads(body)["build"]["id"]] = outcome
        return body

    def stored(backend: Any, build_id: str) -> dict:
        for history in backend.build_metadata_history.values():
            for build in history:
                if build["id"] == build_id:
                    return build
        raise KeyError(build_id)

    def ended(build: dict, outcome: dict) -> dict:
        now = iso_8601_datetime_with_milliseconds()
        status = outcome.get("buildStatus", "SUCCEEDED")
        failed_phase = outcome.get("phaseType") or "BUILD"
        phases = [p for p in build.get("phases", []) if p["phaseType"] == "SUBMITTED"]
        phases.append({"phaseType": "QUEUED", "phaseStatus": "SUCCEEDED", "startTime": build["startTime"], "endTime": now, "durationInSeconds": 0})
        for phase_type in ("PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING"):
            phase = {"phaseType": phase_type, "phaseStatus": "SUCCEEDED", "startTime": now, "endTime": now, "durationInSeconds": 0}
            if status != "SUCCEEDED" and phase_type == failed_phase:
                phase["phaseStatus"] = status
                phase["contexts"] = [{"statusCode": outcome.get("statusCode", ""), "message": outcome.get("message", "")}]
            phases.append(phase)
        phases.append({"phaseType": "COMPLETED", "startTime": now})
        logs = dict(build.get("logs") or {})
        if outcome.get("logGroupName"):
            logs.update(groupName=outcome["logGroupName"], streamName=outcome.get("logStreamName", ""))
        return {**build, "logs": logs, "phases": phases, "buildStatus": status, "currentPhase": "COMPLETED", "buildComplete": True, "endTime": now}

    def batch_get_builds(self: Any, ids: list) -> list:
        outcomes = _backend_state(self, "_launcher_build_outcomes", dict)
        recorded = _backend_state(self, "_launcher_recorded_builds", dict)
        running = {}
        for build_id in ids:
            outcome = outcomes.get(build_id)
            if outcome is None:
                continue
            if outcome["inProgressPolls"] > 0:
                outcome["inProgressPolls"] -= 1
                running[build_id] = {**stored(self, build_id), "buildStatus": "IN_PROGRESS", "currentPhase": "BUILD", "buildComplete": False}
            else:
                recorded[build_id] = ended(stored(self, build_id), outcome)  # as recorded from now on
                del outcomes[build_id]
        rest = [i for i in ids if i not in running]
        by_id = {b["id"]: b for b in original_batch(self, rest)} if rest else {}
        by_id.update({i: _codebuild_epoch_times(b) for i, b in running.items()})
        return [by_id[i] for i in ids if i in by_id]

    def set_build_outcomes(request: Any, full_url: str, headers: Any) -> tuple:
        body = json.loads(request.get_data() or b"{}")
        backend = codebuild_backends[body.get("account_id", "123456789012")][body.get("region", "us-east-1")]
        name = body.get("projectName")
        if name not in backend.codebuild_projects:
            return 400, {}, json.dumps({"message": f"no project {name}"})
        _backend_state(backend, "_launcher_scripted_outcomes", dict).setdefault(name, []).extend(body.get("outcomes", []))
        return 201, {"Content-Type": "application/json"}, "{}"

    CodeBuildResponse.start_build = start_build
    CodeBuildBackend.batch_get_builds = batch_get_builds
    urls.url_paths["{0}/moto-api/static/codebuild/build-outcomes"] = set_build_outcomes


# --- Service Quotas ---------------------------------------------------------------------------------

# CodeBuild's concurrency quotas per platform and compute type that `npm run preflight` reads
# (scripts/preflight.ts, ARM_CONCURRENCY_QUOTAS): names as "Quotas for AWS CodeBuild" (CodeBuild User
# Guide) lists them, each "Each supported Region: 1", adjustable; codes as Service Quotas lists them.
CODEBUILD_CONCURRENCY_QUOTAS = {
    "L-5ED1D25B": "Concurrently running builds for ARM/Small environment",
    "L-DF544FF3": "Concurrently running builds for ARM/Medium environment",
    "L-596BEAB4": "Concurrently running builds for ARM/Large environment",
}
CODEBUILD_CONCURRENCY_DEFAULT = 1.0
# The applied value of each, unless MOTO_CODEBUILD_CONCURRENCY_QUOTA or the setter below says
# otherwise: an account whose quota was raised to 20 ("For some platforms and compute types, the
# default is 20", same page), so that preflight finishes clean on the sandbox.
CODEBUILD_CONCURRENCY_APPLIED = 20.0


def patch_servicequotas_codebuild() -> None:
    """Gap: moto's Service Quotas knows only `vpc` (NoSuchResource for `codebuild`) and has no
    `GetAWSDefaultServiceQuota` or `ListServiceQuotas` (HTTP 500), so preflight against the emulator
    ended with "HTTP 500 from Service Quotas". For the CodeBuild concurrency quotas above:
    - GetServiceQuota / ListServiceQuotas answer the account's applied value: 20, or
      MOTO_CODEBUILD_CONCURRENCY_QUOTA at start, or what `POST /moto-api/static/service-quotas/applied`
      with `{"region", "quotas": [{"ServiceCode": "codebuild", "QuotaCode", "Value"}]}` set (a
      `Value` of null removes the applied value: GetServiceQuota then answers NoSuchResourceException,
      as AWS does when "the applied quota value is not available", Service Quotas API Reference);
    - GetAWSDefaultServiceQuota / ListAWSDefaultServiceQuotas answer AWS's default, 1.
    Other services keep moto's behaviour."""
    import os

    from moto.moto_api._internal import urls
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.models import ServiceQuotasBackend, servicequotas_backends
    from moto.servicequotas.responses import ServiceQuotasResponse

    start_value = os.environ.get("MOTO_CODEBUILD_CONCURRENCY_QUOTA")
    initial = float(start_value) if start_value not in (None, "") else CODEBUILD_CONCURRENCY_APPLIED

    def applied_of(backend: Any) -> dict:
        return _backend_state(backend, "_launcher_codebuild_applied", lambda: {code: initial for code in CODEBUILD_CONCURRENCY_QUOTAS})

    def quota(backend: Any, code: str, value: float) -> dict:
        return {
            "ServiceCode": "codebuild",
            "ServiceName": "AWS CodeBuild",
            "QuotaArn": f"arn:aws:servicequotas:{backend.region_name}:{backend.account_id}:codebuild/{code}",
            "QuotaCode": code,
            "QuotaName": CODEBUILD_CONCURRENCY_QUOTAS[code],
            "Value": value,
            "Unit": "None",
            "Adjustable": True,
            "GlobalQuota": False,
        }

    original_get = ServiceQuotasBackend.get_service_quota
    original_list_defaults = ServiceQuotasBackend.list_aws_default_service_quotas

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict:
        if service_code != "codebuild":
            return original_get(self, service_code, quota_code)
        value = applied_of(self).get(quota_code)
        if value is None:
            raise NoSuchResource()
        return quota(self, quota_code, value)

    def list_aws_default_service_quotas(self: Any, service_code: str) -> list:
        if service_code != "codebuild":
            return original_list_defaults(self, service_code)
        return [quota(self, code, CODEBUILD_CONCURRENCY_DEFAULT) for code in CODEBUILD_CONCURRENCY_QUOTAS]

    def get_aws_default_service_quota(self: Any) -> str:
        params = json.loads(self.body)
        code = str(params.get("QuotaCode"))
        if params.get("ServiceCode") != "codebuild" or code not in CODEBUILD_CONCURRENCY_QUOTAS:
            raise NoSuchResource()
        return json.dumps({"Quota": quota(self.backend, code, CODEBUILD_CONCURRENCY_DEFAULT)})

    def list_service_quotas(self: Any) -> str:
        params = json.loads(self.body)
        if params.get("ServiceCode") != "codebuild":
            raise NoSuchResource()
        applied = applied_of(self.backend)
        return json.dumps({"Quotas": [quota(self.backend, code, value) for code, value in applied.items() if value is not None]})

    def set_applied(request: Any, full_url: str, headers: Any) -> tuple:
        body = json.loads(request.get_data() or b"{}")
        backend = servicequotas_backends[body.get("account_id", "123456789012")][body.get("region", "us-east-1")]
        applied = applied_of(backend)
        for spec in body.get("quotas", []):
            if spec.get("ServiceCode") != "codebuild" or spec.get("QuotaCode") not in CODEBUILD_CONCURRENCY_QUOTAS:
                return 400, {}, json.dumps({"message": f"not a CodeBuild concurrency quota the emulator models: {spec}"})
            applied[spec["QuotaCode"]] = None if spec.get("Value") is None else float(spec["Value"])
        return 200, {"Content-Type": "application/json"}, json.dumps({"applied": applied})

    ServiceQuotasBackend.get_service_quota = get_service_quota
    ServiceQuotasBackend.list_aws_default_service_quotas = list_aws_default_service_quotas
    ServiceQuotasResponse.get_aws_default_service_quota = get_aws_default_service_quota
    ServiceQuotasResponse.list_service_quotas = list_service_quotas
    urls.url_paths["{0}/moto-api/static/service-quotas/applied"] = set_applied


# --- Quotas AWS enforces and stock moto does not ----------------------------------------------------
#
# Each patch below makes the emulator refuse what AWS refuses, with the error code and HTTP status AWS
# documents for it, so that Terraform fails on the emulator where it would fail on AWS. The limits are
# AWS's default quotas (what a new account has).

# "IAM and AWS STS quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
# "Role policy size cannot exceed 10,240 characters" (all inline policies of a role together),
# "Managed policy size cannot exceed 6,144 characters", "Managed policies attached to an IAM role: 10"
# (default, up to 20 on request); "IAM does not count white space when calculating the size of a
# policy against these limits".
IAM_ROLE_POLICY_SIZE_QUOTA = 10_240
IAM_MANAGED_POLICY_SIZE_QUOTA = 6_144
IAM_ATTACHED_POLICIES_PER_ROLE_QUOTA = 10

# "Amazon EventBridge quotas", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html:
# "Event pattern size: 2,048 ... maximum size of an event pattern, in characters" (default; adjustable).
EVENTBRIDGE_EVENT_PATTERN_SIZE_QUOTA = 2_048

# "Quotas for configuring and running a REST API in API Gateway",
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html:
# "Resources per API: 300", "Length, in characters, of API Gateway resource policy: 8192".
APIGATEWAY_RESOURCES_PER_API_QUOTA = 300
APIGATEWAY_RESOURCE_POLICY_LENGTH_QUOTA = 8_192

# CodeBuild: an inline buildspec (ProjectSource.buildspec) may hold at most 25,600 characters. Not in
# CodeBuild's documentation; CreateProject/UpdateProject answer InvalidInputException "Max buildspec
# length is 25600" (met by aws-cdk, which moved long buildspecs out of line: aws/aws-cdk#14974).
CODEBUILD_INLINE_BUILDSPEC_LENGTH_QUOTA = 25_600


def _iam_policy_size(document: str) -> int:
    """A policy's size as IAM counts it: characters other than white space."""
    return len(re.sub(r"\s", "", document))


def patch_iam_role_inline_policy_size() -> None:
    """AWS: a role's inline policies together may hold at most 10,240 characters, white space not
    counted ("IAM and AWS STS quotas", IAM User Guide). PutRolePolicy past it fails with
    `LimitExceeded` (HTTP 409, PutRolePolicy in the IAM API Reference), e.g. "Maximum policy size of
    10240 bytes exceeded for role NAME". Stock moto stores any size."""
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend

    original = IAMBackend.put_role_policy

    def put_role_policy(self: Any, role_name: str, policy_name: str, policy_json: str) -> None:
        role = self.get_role(role_name)
        others = sum(_iam_policy_size(doc) for name, doc in role.policies.items() if name != policy_name)
        if others + _iam_policy_size(policy_json) > IAM_ROLE_POLICY_SIZE_QUOTA:
            raise LimitExceededException(
                f"Maximum policy size of {IAM_ROLE_POLICY_SIZE_QUOTA} bytes exceeded for role {role_name}"
            )
        original(self, role_name, policy_name, policy_json)

    IAMBackend.put_role_policy = put_role_policy


def patch_iam_managed_policy_size() -> None:
    """AWS: a managed policy may hold at most 6,144 characters, white space not counted ("IAM and AWS
    STS quotas"). CreatePolicy and CreatePolicyVersion past it fail with `LimitExceeded` (HTTP 409):
    "Cannot exceed quota for PolicySize: 6144". Stock moto stores any size."""
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend

    def check(document: str) -> None:
        if _iam_policy_size(document) > IAM_MANAGED_POLICY_SIZE_QUOTA:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {IAM_MANAGED_POLICY_SIZE_QUOTA}")

    original_create = IAMBackend.create_policy
    original_version = IAMBackend.create_policy_version

    def create_policy(self: Any, description: str, path: str, policy_document: str, policy_name: str, tags: Any) -> Any:
        check(policy_document)
        return original_create(self, description, path, policy_document, policy_name, tags)

    def create_policy_version(self: Any, policy_arn: str, policy_document: str, set_as_default: bool) -> Any:
        check(policy_document)
        return original_version(self, policy_arn, policy_document, set_as_default)

    IAMBackend.create_policy = create_policy
    IAMBackend.create_policy_version = create_policy_version


def patch_iam_attached_policies_per_role() -> None:
    """AWS: at most 10 managed policies attached to a role by default ("IAM and AWS STS quotas").
    AttachRolePolicy past it fails with `LimitExceeded` (HTTP 409): "Cannot exceed quota for
    PoliciesPerRole: 10". Stock moto attaches any number."""
    from moto.iam.exceptions import LimitExceededException
    from moto.iam.models import IAMBackend

    original = IAMBackend.attach_role_policy

    def attach_role_policy(self: Any, policy_arn: str, role_name: str) -> None:
        role = self.get_role(role_name)
        if policy_arn not in role.managed_policies and len(role.managed_policies) >= IAM_ATTACHED_POLICIES_PER_ROLE_QUOTA:
            raise LimitExceededException(f"Cannot exceed quota for PoliciesPerRole: {IAM_ATTACHED_POLICIES_PER_ROLE_QUOTA}")
        original(self, policy_arn, role_name)

    IAMBackend.attach_role_policy = attach_role_policy


def patch_eventbridge_event_pattern_size() -> None:
    """AWS: an event pattern may hold at most 2,048 characters by default ("Amazon EventBridge
    quotas": Event pattern size; the CloudWatch Events PutRule reference gives EventPattern "Maximum
    length of 2048"). A longer pattern is refused with a 400 `ValidationException` in AWS's length
    constraint form ("1 validation error detected: Value ... at 'eventPattern' failed to satisfy
    constraint: Member must have length less than or equal to 2048"), which the SDK does not retry.
    Stock moto accepts any length."""
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    original = EventsBackend.put_rule

    def put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        pattern = kwargs.get("event_pattern") if "event_pattern" in kwargs else (args[2] if len(args) > 2 else None)
        if pattern is not None and len(pattern) > EVENTBRIDGE_EVENT_PATTERN_SIZE_QUOTA:
            raise ValidationException(
                "1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: "
                f"Member must have length less than or equal to {EVENTBRIDGE_EVENT_PATTERN_SIZE_QUOTA}"
            )
        return original(self, name, *args, **kwargs)

    EventsBackend.put_rule = put_rule


def patch_apigateway_resources_per_api() -> None:
    """AWS: a REST API holds at most 300 resources by default ("Quotas for configuring and running a
    REST API in API Gateway": Resources per API; raised per API only). CreateResource past it fails
    with `LimitExceededException`, HTTP 429 (API Gateway API Reference, common errors): "Maximum
    number of Resources for this API has been reached. Please contact AWS if you need additional
    Resources." The root resource `/` counts: GetResources lists it among the API's resources.
    Stock moto creates any number."""
    from moto.apigateway.exceptions import ApiGatewayException
    from moto.apigateway.models import APIGatewayBackend

    class LimitExceededException(ApiGatewayException):
        code = 429

        def __init__(self, message: str):
            super().__init__("LimitExceededException", message)

    original = APIGatewayBackend.create_resource

    def create_resource(self: Any, function_id: str, parent_resource_id: str, path_part: str) -> Any:
        api = self.get_rest_api(function_id)
        if path_part and len(api.resources) >= APIGATEWAY_RESOURCES_PER_API_QUOTA:
            raise LimitExceededException(
                "Maximum number of Resources for this API has been reached. "
                "Please contact AWS if you need additional Resources."
            )
        return original(self, function_id, parent_resource_id, path_part)

    APIGatewayBackend.create_resource = create_resource


def patch_codebuild_inline_buildspec_length() -> None:
    """AWS: CodeBuild refuses a project whose inline buildspec (source or secondary source) is longer
    than 25,600 characters, with `InvalidInputException` (HTTP 400) "Max buildspec length is 25600"
    (undocumented; aws/aws-cdk#14974). Stock moto stores any length, so a stack whose buildspec is too
    long would apply here and fail on AWS. A buildspec naming a file (no newline) is not inline."""
    from moto.codebuild.exceptions import InvalidInputException
    from moto.codebuild.responses import CodeBuildResponse

    def check(self: Any) -> None:
        sources = [self._get_param("source") or {}] + list(self._get_param("secondarySources") or [])
        for source in sources:
            buildspec = source.get("buildspec") or ""
            if len(buildspec) > CODEBUILD_INLINE_BUILDSPEC_LENGTH_QUOTA:
                raise InvalidInputException(f"Max buildspec length is {CODEBUILD_INLINE_BUILDSPEC_LENGTH_QUOTA}")

    for operation in ("create_project", "update_project"):
        original = getattr(CodeBuildResponse, operation)

        def checked(self: Any, _original: Callable[[Any], str] = original) -> str:
            check(self)
            return _original(self)

        setattr(CodeBuildResponse, operation, checked)


_EXECUTE_API_SHORT_FORM = "execute-api:/"


def _expanded_resource_policy(policy: str, api: Any) -> str:
    """The policy as API Gateway stores it: every `execute-api:/...` resource (Resource and
    NotResource) expanded to `arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/...`."""
    from moto.utilities.utils import get_partition

    document = json.loads(policy)
    prefix = f"arn:{get_partition(api.region_name)}:execute-api:{api.region_name}:{api.account_id}:{api.id}/"
    changed = False

    def expand(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, str) and value.startswith(_EXECUTE_API_SHORT_FORM):
            changed = True
            return prefix + value[len(_EXECUTE_API_SHORT_FORM):]
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        for key in ("Resource", "NotResource"):
            if key in statement:
                statement[key] = expand(statement[key])
    return json.dumps(document, separators=(",", ":")) if changed else policy


def patch_apigateway_resource_policy() -> None:
    """AWS: API Gateway stores a REST API's resource policy with the abbreviated resource
    `execute-api:/...` expanded to the full ARN `arn:aws:execute-api:REGION:ACCOUNT:API_ID/...`
    ("API Gateway resource policy examples": "API Gateway converts the abbreviated syntax to the full
    ARN when you save the policy"), and GetRestApi returns that form: a configuration that writes the
    short form shows a change on every plan. The policy may hold at most 8,192 characters ("Quotas for
    configuring and running a REST API in API Gateway"; counted here on the stored, expanded form);
    a longer one is refused with a 400 `BadRequestException` (the error API Gateway documents for an
    invalid request; the quota's exact message is not documented, so this one names the quota).
    Stock moto stores the policy verbatim, of any length."""
    from moto.apigateway.exceptions import BadRequestException
    from moto.apigateway.models import APIGatewayBackend

    def store(api: Any, previous: Any) -> None:
        if not api.policy:
            return
        expanded = _expanded_resource_policy(api.policy, api)
        if len(expanded) > APIGATEWAY_RESOURCE_POLICY_LENGTH_QUOTA:
            api.policy = previous
            raise BadRequestException(
                f"Resource policy of {len(expanded)} characters exceeds the quota "
                f"'Length, in characters, of API Gateway resource policy' ({APIGATEWAY_RESOURCE_POLICY_LENGTH_QUOTA})"
            )
        api.policy = expanded

    original_create = APIGatewayBackend.create_rest_api
    original_update = APIGatewayBackend.update_rest_api

    def create_rest_api(self: Any, *args: Any, **kwargs: Any) -> Any:
        api = original_create(self, *args, **kwargs)
        try:
            store(api, None)
        except BadRequestException:
            self.apis.pop(api.id, None)
            raise
        return api

    def update_rest_api(self: Any, function_id: str, patch_operations: list) -> Any:
        previous = self.get_rest_api(function_id).policy
        api = original_update(self, function_id, patch_operations)
        if api.policy != previous:
            store(api, previous)
        return api

    APIGatewayBackend.create_rest_api = create_rest_api
    APIGatewayBackend.update_rest_api = update_rest_api


# --- Step Functions -------------------------------------------------------------------------------


def patch_stepfunctions_execute() -> None:
    """Gap: moto records a StartExecution without running it unless its `execute_state_machine`
    option is on; AWS runs the state machine. With the option on, moto's ASL interpreter (ported
    from LocalStack) runs each state, and its service integrations (DynamoDB, SNS, ...) call this
    same server at localhost:MOTO_PORT, so MOTO_PORT is set to the port the server listens on. A
    second StartExecution of the same state machine then failed with 500 ("cannot pickle
    '_thread.RLock'"): the interpreter deep-copies the state machine for each execution, including
    the running executions it holds. The copy now leaves the executions out (the clone only supplies
    the definition and settings of the new execution)."""
    import copy
    import os

    from moto.core.config import default_user_config
    from moto.stepfunctions.models import StateMachine

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    if "-p" in sys.argv:
        os.environ["MOTO_PORT"] = sys.argv[sys.argv.index("-p") + 1]

    def __deepcopy__(self: Any, memo: dict) -> Any:
        clone = StateMachine.__new__(StateMachine)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, [] if key == "executions" else copy.deepcopy(value, memo))
        return clone

    StateMachine.__deepcopy__ = __deepcopy__

    # Gap: StartExecution without a name names the execution "None", so a second one fails with
    # ExecutionAlreadyExists; AWS generates a unique name (Step Functions API Reference,
    # StartExecution, `name`: "If you don't provide a name ... Step Functions generates one").
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original_start = StepFunctionsParserBackend.start_execution

    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original_start(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution

    # Gap: no ValidateStateMachineDefinition, which the AWS provider calls before it creates or
    # updates a state machine (an HTTP 500 fails the apply). Answered with the interpreter's own
    # parser: OK, or FAIL with the parser's message as the one diagnostic (Step Functions API
    # Reference, ValidateStateMachineDefinition: `result`, `diagnostics`, `truncated`).
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self: Any) -> Any:
        try:
            AmazonStateLanguageParser.parse(self._get_param("definition"))
        except Exception as e:  # the parser's own errors: the definition is not valid ASL
            diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(e)[:1000]}
            return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})

    StepFunctionResponse.validate_state_machine_definition = validate_state_machine_definition

    # Gap: no ListStateMachineVersions, which the AWS provider calls when it reads a state machine.
    # The versions moto keeps (published with `publish`), newest first, as the API Reference lists
    # them (`stateMachineVersions`: `stateMachineVersionArn`, `creationDate`).
    def list_state_machine_versions(self: Any) -> Any:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        versions = sorted(getattr(machine, "versions", {}).items(), reverse=True)
        return ActionResult(
            {"stateMachineVersions": [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for _, v in versions]}
        )

    StepFunctionResponse.list_state_machine_versions = list_state_machine_versions

    # Gap: CreateStateMachine's `type` is dropped (every state machine is described as STANDARD),
    # so an EXPRESS state machine shows a replacement in every plan after its apply. The type is
    # kept and described as given (Step Functions API Reference, CreateStateMachine, `type`).
    original_create = StepFunctionResponse.create_state_machine

    def create_state_machine(self: Any) -> Any:
        answer = original_create(self)
        machine_type = self._get_param("type") or "STANDARD"
        for machine in self.stepfunction_backend.state_machines:
            if machine.name == self._get_param("name"):
                machine.type = machine_type
                machine.sm_type = machine_type
        return answer

    StepFunctionResponse.create_state_machine = create_state_machine

    # AWS SDK integrations name CloudWatch Logs `cloudwatchlogs`
    # (`arn:aws:states:::aws-sdk:cloudwatchlogs:filterLogEvents`; Step Functions Developer Guide,
    # "Learning to use AWS service SDK integrations in Step Functions"), boto3 names it `logs`, and
    # its errors are `CloudWatchLogs.NAME`.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_aws_sdk,
    )

    state_task_service.StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES = {
        **state_task_service.StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
        "cloudwatchlogs": "logs",
    }
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES["cloudwatchlogs"] = "CloudWatchLogs"

    # Gap: an AWS SDK integration takes and returns fields in PascalCase ("Parameters in Step
    # Functions are expressed in PascalCase, even if the native service API is in camelCase", the
    # same page); moto's port hands the PascalCase names to boto3 unchanged (a camelCase API such as
    # CloudWatch Logs' fails on `LogGroupName`) and returns boto3's names. Parameters are matched to
    # the operation's input members regardless of case; the result's keys are given PascalCase.
    import boto3

    def _pascal(value: Any) -> Any:
        if isinstance(value, dict):
            return {(k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [_pascal(v) for v in value]
        return value

    aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    original_eval = aws_sdk._eval_service_task

    def _eval_service_task(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> None:
        service = self._get_boto_service_name()
        model = boto3.session.Session().client(service, region_name="us-east-1")._service_model
        operation = model.operation_model(model.operation_names[[n.lower() for n in model.operation_names].index(self.resource.api_action.lower())])
        members = {m.lower(): m for m in (operation.input_shape.members if operation.input_shape else {})}
        renamed = {members.get(k.lower(), k): v for k, v in normalised_parameters.items()}
        normalised_parameters.clear()
        normalised_parameters.update(renamed)
        original_eval(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        env.stack.append(_pascal(env.stack.pop()))

    aws_sdk._eval_service_task = _eval_service_task


def _transform_input(template: str, paths: dict, event: Any) -> str:
    """An EventBridge input transformer applied as EventBridge documents it (EventBridge User
    Guide, "Amazon EventBridge input transformation", "Input transform examples"): in a JSON
    template a variable standing for a whole value is replaced by that value as JSON (a string
    gets its quotes, a missing path gives null), one inside a quoted string by its text. moto's
    own EventTemplateParser pastes every value's text unquoted, which makes `{"a": <a>}` invalid
    JSON for a string `a`; the Step Functions target uses this one."""
    import json as _json

    from jsonpath_ng.ext import parse

    values: dict[str, Any] = {}
    for name, path in paths.items():
        found = parse(path).find(event)
        values[name] = found[0].value if found else None
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        if c == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > i else ""
            if name in values:
                v = values[name]
                if in_string:
                    text = v if isinstance(v, str) else ("" if v is None else _json.dumps(v))
                    out.append(_json.dumps(text)[1:-1])
                else:
                    out.append(_json.dumps(v))
                i = end + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def patch_events_stepfunctions_target() -> None:
    """Gap: moto's EventBridge delivers to CloudWatch Logs, SQS, event buses and API destinations
    only and fails on any other target; EventBridge starts a Step Functions state machine target
    with the (transformed) event as the execution's input (EventBridge User Guide, "Event bus
    targets", Step Functions state machine). A states target now starts an execution of the
    state machine, through moto's Step Functions backend (which runs it:
    patch_stepfunctions_execute); the other targets go where moto sent them."""
    import json as _json
    import uuid

    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
    from moto.events.models import Rule
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        states = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        if states and self.event_pattern.matches_event(original_event):
            # moto keeps `time` as epoch seconds and formats it on delivery, as its SQS and Logs
            # targets do: an event's `time` is ISO 8601 ("2026-12-03T10:00:00Z").
            delivered = dict(original_event)
            if isinstance(delivered.get("time"), (int, float, str)) and not str(delivered["time"]).endswith("Z"):
                delivered["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(delivered["time"])))
            for target in states:
                transformer = target.get("InputTransformer")
                execution_input = (
                    _transform_input(transformer["InputTemplate"], transformer.get("InputPathsMap", {}), delivered)
                    if transformer is not None
                    else _json.dumps(delivered)
                )
                arn = parse_arn(target["Arn"])
                get_backend(arn.account, arn.region).start_execution(
                    target["Arn"], name=str(uuid.uuid4()), execution_input=execution_input
                )
        others = [t for t in self.targets if parse_arn(t["Arn"]).service != "states"]
        if len(others) == len(self.targets):
            return original(self, original_event, transform_input)
        kept = self.targets
        self.targets = others
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = kept

    Rule.send_to_targets = send_to_targets


PATCHES: list[Callable[[], None]] = [
    patch_codecommit_epoch_dates,
    patch_codecommit_tags,
    patch_codecommit_update_description,
    patch_codecommit_list_repositories,
    patch_codebuild_no_source_location,
    patch_codebuild_unmodelled_fields,
    patch_codebuild_update_project,
    patch_codebuild_delete_by_arn,
    patch_efs_put_backup_policy,
    patch_efs_update_file_system,
    patch_ec2_referenced_rule_description,
    patch_ec2_nat_gateway_releases_interface,
    patch_ec2_vpc_subnet_custom_ids,
    patch_apigateway_policy_escaping,
    patch_s3_secure_transport,
    patch_s3_delete_marker_dispose,
    patch_codecommit_branches_for_status,
    patch_codebuild_builds_for_status,
    patch_codebuild_scripted_build_outcomes,
    patch_servicequotas_codebuild,
    patch_iam_role_inline_policy_size,
    patch_iam_managed_policy_size,
    patch_iam_attached_policies_per_role,
    patch_eventbridge_event_pattern_size,
    patch_apigateway_resources_per_api,
    patch_apigateway_resource_policy,
    patch_codebuild_inline_buildspec_length,
    patch_stepfunctions_execute,
    patch_events_stepfunctions_target,
]


def apply_patches() -> None:
    """Patches moto's response and model classes in place, one function per gap."""
    for patch in PATCHES:
        patch()


def main() -> None:
    try:
        import moto
        import moto.server
    except ImportError as e:
        sys.stderr.write(
            f"moto is not installed for this Python ({e}). Install it with: "
            'python3 -m pip install "moto[server]==5.2.1" (or set MOTO_PYTHON to a Python that has it)\n'
        )
        sys.exit(3)
    if moto.__version__ != MOTO_VERSION:
        sys.stderr.write(
            f"warning: these patches were written for moto {MOTO_VERSION}, found {moto.__version__}\n"
        )
    apply_patches()
    moto.server.main(sys.argv[1:])


if __name__ == "__main__":
    main()
