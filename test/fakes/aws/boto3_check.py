"""Drives the fake AWS (STS + IAM over the Query protocol) with an independent client, Debian's
python3-boto3, through what the AWS provider relies on, and prints one JSON line:
{"ok": true, "steps": [...]}. Any deviation raises, so the process exits non-zero.

Env: AWS_FAKE_URL (the fake's endpoint; never a real AWS endpoint), AWS_FAKE_ACCESS_KEY_ID and
AWS_FAKE_SECRET_ACCESS_KEY (the fake's admin credentials), AWS_FAKE_REGION, AWS_FAKE_ROLE_NAME (a
role the fake created, MaxSessionDuration 3600). Throttling is injected through the fake's admin
hook POST /__fake/throttle."""
import json
import os
import urllib.request
from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["AWS_FAKE_URL"]
assert URL.startswith("http://127.0.0.1:"), f"refusing to talk to {URL}: the check runs against the local fake only"
REGION = os.environ["AWS_FAKE_REGION"]
ROLE_NAME = os.environ["AWS_FAKE_ROLE_NAME"]
ADMIN = {"aws_access_key_id": os.environ["AWS_FAKE_ACCESS_KEY_ID"], "aws_secret_access_key": os.environ["AWS_FAKE_SECRET_ACCESS_KEY"]}
# Standard retry mode: Throttling is retried with backoff; the small cap keeps a failure quick.
CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
steps = []


def step(name):
    steps.append(name)


def client(service, **creds):
    return boto3.client(service, endpoint_url=URL, region_name=REGION, config=CONFIG, **creds)


def expect_error(code, status, what, fn):
    try:
        fn()
    except ClientError as err:
        got = (err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"{what}: expected {code} {status}, got {got}: {err}"
        return err.response["Error"]["Message"]
    raise AssertionError(f"expected {code} from {what}")


admin_sts = client("sts", **ADMIN)
admin_iam = client("iam", **ADMIN)

me = admin_sts.get_caller_identity()
assert me["Arn"].endswith(":user/quartermaster") and me["UserId"].startswith("AIDA"), me
account = me["Account"]
step("admin caller identity")

role_arn = f"arn:aws:iam::{account}:role/{ROLE_NAME}"
assumed = admin_sts.assume_role(
    RoleArn=role_arn,
    RoleSessionName="boto3-check",
    DurationSeconds=900,
    Tags=[{"Key": "incident_id", "Value": "INC-BOTO3"}, {"Key": "agent", "Value": "boto3"}],
    TransitiveTagKeys=["incident_id"],
    SourceIdentity="boto3-agent",
)
creds = assumed["Credentials"]
assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20, creds
assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100, creds
assert isinstance(creds["Expiration"], datetime), creds
assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{ROLE_NAME}/boto3-check", assumed
assert assumed["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA"), assumed
assert assumed["SourceIdentity"] == "boto3-agent" and isinstance(assumed["PackedPolicySize"], int), assumed
step("assume-role with tags and source identity")

session = {
    "aws_access_key_id": creds["AccessKeyId"],
    "aws_secret_access_key": creds["SecretAccessKey"],
    "aws_session_token": creds["SessionToken"],
}
session_sts = client("sts", **session)
session_iam = client("iam", **session)
who = session_sts.get_caller_identity()
assert who["Arn"] == assumed["AssumedRoleUser"]["Arn"] and who["UserId"] == assumed["AssumedRoleUser"]["AssumedRoleId"], who
step("session caller identity")

role = session_iam.get_role(RoleName=ROLE_NAME)["Role"]
assert role["RoleName"] == ROLE_NAME and role["Arn"] == role_arn and role["MaxSessionDuration"] == 3600, role
# botocore URL-decodes and parses policy documents IAM returns.
assert role["AssumeRolePolicyDocument"]["Version"] == "2012-10-17", role
step("get-role with the session allowed")

deny = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": ["iam:*", "sts:*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/incident_id": ["INC-BOTO3", "INC-OTHER"]}},
        }
    ],
}
admin_iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="deny-inc-boto3", PolicyDocument=json.dumps(deny, indent=2))
message = expect_error("AccessDenied", 403, "get-role with the denied session", lambda: session_iam.get_role(RoleName=ROLE_NAME))
assert "with an explicit deny in an identity-based policy" in message, message
step("get-role with the session refused by the tag deny")

assert session_sts.get_caller_identity()["Arn"] == who["Arn"]
step("caller identity never denied")

got = admin_iam.get_role_policy(RoleName=ROLE_NAME, PolicyName="deny-inc-boto3")
assert got["PolicyDocument"] == deny, got
assert admin_iam.list_role_policies(RoleName=ROLE_NAME)["PolicyNames"] == ["deny-inc-boto3"]
step("get-role-policy decoded by boto3; list-role-policies")

admin_iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName="deny-inc-boto3")
session_iam.get_role(RoleName=ROLE_NAME)
step("policy deleted: session allowed again")

expect_error(
    "NoSuchEntity", 404, "delete of a deleted policy",
    lambda: admin_iam.delete_role_policy(RoleName=ROLE_NAME, PolicyName="deny-inc-boto3"),
)
expect_error("NoSuchEntity", 404, "get-role of a missing role", lambda: admin_iam.get_role(RoleName="no-such-role"))
step("NoSuchEntity")

message = expect_error(
    "ValidationError", 400, "a duration over MaxSessionDuration",
    lambda: admin_sts.assume_role(RoleArn=role_arn, RoleSessionName="too-long", DurationSeconds=3601),
)
assert message == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", message
step("duration over MaxSessionDuration refused")

hook = urllib.request.Request(f"{URL}/__fake/throttle", data=json.dumps({"count": 1, "action": "GetRole"}).encode(), method="POST")
with urllib.request.urlopen(hook) as answer:
    assert answer.status == 204, answer.status
retried = admin_iam.get_role(RoleName=ROLE_NAME)
assert retried["ResponseMetadata"]["RetryAttempts"] == 1, retried["ResponseMetadata"]
step("throttling retried")

print(json.dumps({"ok": True, "steps": steps}))
