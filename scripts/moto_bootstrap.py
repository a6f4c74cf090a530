#!/usr/bin/env python3
"""Bootstrap / seed a moto_server that runs with request authentication ON.

Used by src/demo/moto.ts (the tests, the benchmarks and `countersign demo`). Modes:

  moto_bootstrap.py bootstrap ENDPOINT
      moto_server must have been started with
      INITIAL_NO_AUTH_ACTION_COUNT == NO_AUTH_CALLS (5). Makes exactly that
      many unauthenticated calls (dummy credentials) to create:
        - IAM user `countersign-proxy` with an inline policy allowing * on *,
          and an access key for it;
        - role `countersign-target`, trusted by that user (and the account
          root), with an inline policy allowing s3:*, dynamodb:*,
          sts:GetCallerIdentity, iam:Get*, iam:List*.
      Then, authenticated with the new user's key, proves that auth is ON
      (a bogus secret key is rejected with a signature error, the real key
      works and can AssumeRole into the role) and prints one JSON line:
        {"accessKeyId", "secretAccessKey", "accountId", "roleArn"}

  moto_bootstrap.py seed-s3 ENDPOINT BUCKET OBJECTS_JSON
      Creates BUCKET and puts OBJECTS_JSON ({"key": "body", ...}) into it.

  moto_bootstrap.py seed-dynamo ENDPOINT TABLE
      Creates TABLE (hash key `pk`, string) and puts {pk: "k1", v: "hello"}.

  moto_bootstrap.py seed-roles ENDPOINT ROLE_NAMES_JSON
      Creates each role of ROLE_NAMES_JSON (["name", ...]) trusted like
      `countersign-target` (by the admin user), with an inline policy allowing
      * on *: the session policies countersign mints narrow it per call.

  moto_bootstrap.py seed-untrusting-role ENDPOINT ROLE_NAME
      Creates ROLE_NAME with a trust policy that admits nobody countersign is.

Seed modes authenticate with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from
the environment (the admin key printed by bootstrap).
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
USER_NAME = "countersign-proxy"
ROLE_NAME = "countersign-target"
# Must equal the INITIAL_NO_AUTH_ACTION_COUNT given to moto_server
# (NO_AUTH_BOOTSTRAP_CALLS in src/demo/moto.ts).
NO_AUTH_CALLS = 5

# No retries: a retried unauthenticated call would consume an extra slot of
# INITIAL_NO_AUTH_ACTION_COUNT and a retried auth failure only hides the error.
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service, endpoint, key_id, secret, token=None):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=_CONFIG,
    )


def trust_policy(account_id, user_arn):
    # moto's trust check (moto/iam/access_control.py _check_role_trust_relationship
    # -> IAMPolicyStatement._check_principal) compares the caller's ARN
    # (arn:aws:iam::ACCOUNT:user/NAME) for equality / list membership with
    # Principal.AWS; it does not expand ":root" to every principal of the
    # account. So the user ARN must be listed explicitly (as a list: with a
    # plain string, moto would do a substring test).
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{account_id}:root", user_arn]},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def fail(msg):
    print(f"moto_bootstrap: {msg}", file=sys.stderr)
    sys.exit(1)


def bootstrap(endpoint):
    # ---- exactly NO_AUTH_CALLS unauthenticated calls ----
    iam = client("iam", endpoint, "AKIABOOTSTRAPDUMMY00", "dummy-secret-for-unauthenticated-calls")
    calls = 0

    user = iam.create_user(UserName=USER_NAME)["User"]
    calls += 1
    user_arn = user["Arn"]  # arn:aws:iam::ACCOUNT:user/countersign-proxy
    account_id = user_arn.split(":")[4]

    iam.put_user_policy(
        UserName=USER_NAME,
        PolicyName="allow-everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    calls += 1

    key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    calls += 1

    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust_policy(account_id, user_arn)))["Role"]
    calls += 1

    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="countersign-target-access",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:*", "dynamodb:*", "sts:GetCallerIdentity", "iam:Get*", "iam:List*"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    calls += 1
    assert calls == NO_AUTH_CALLS, calls

    # ---- from here on moto authenticates every request ----
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    role_arn = role["Arn"]

    # 1. A bogus secret for a real key id must be rejected with a signature error.
    bogus = client("sts", endpoint, key_id, secret[:-4] + "XXXX")
    try:
        bogus.get_caller_identity()
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code != "SignatureDoesNotMatch":
            fail(f"bogus-secret call failed with {code!r}, expected SignatureDoesNotMatch: {e}")
    else:
        fail("request authentication is OFF: a call signed with a bogus secret key succeeded")

    # 1b. An unknown key id must be rejected too (not silently mapped to a default identity).
    try:
        client("iam", endpoint, "AKIANOTAREALKEY00000", "nope").list_users()
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code != "InvalidClientTokenId":
            fail(f"unknown-key call failed with {code!r}, expected InvalidClientTokenId: {e}")
    else:
        fail("request authentication is OFF: a call with an unknown access key succeeded")

    # 2. The real key works and AssumeRole into the target role succeeds.
    sts = client("sts", endpoint, key_id, secret)
    ident = sts.get_caller_identity()
    if ident["Arn"] != user_arn:
        fail(f"GetCallerIdentity returned {ident['Arn']!r}, expected {user_arn!r}")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="bootstrap-check")["Credentials"]
    assumed = client("sts", endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assumed_arn = assumed.get_caller_identity()["Arn"]
    if f":assumed-role/{ROLE_NAME}/" not in assumed_arn:
        fail(f"assumed-role GetCallerIdentity returned {assumed_arn!r}")

    print(
        json.dumps(
            {"accessKeyId": key_id, "secretAccessKey": secret, "accountId": account_id, "roleArn": role_arn}
        ),
        flush=True,
    )


def admin_client(service, endpoint):
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        fail("AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY must be set for seed modes")
    return client(service, endpoint, key_id, secret)


def seed_s3(endpoint, bucket, objects_json):
    objects = json.loads(objects_json)
    if not isinstance(objects, dict):
        fail("OBJECTS_JSON must be a JSON object of key -> body")
    s3 = admin_client("s3", endpoint)
    s3.create_bucket(Bucket=bucket)
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=str(body).encode("utf-8"))


def seed_dynamo(endpoint, table):
    ddb = admin_client("dynamodb", endpoint)
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    ddb.put_item(TableName=table, Item={"pk": {"S": "k1"}, "v": {"S": "hello"}})


def seed_roles(endpoint, names_json):
    names = json.loads(names_json)
    if not isinstance(names, list):
        fail("ROLE_NAMES_JSON must be a JSON list of role names")
    iam = admin_client("iam", endpoint)
    user_arn = admin_client("sts", endpoint).get_caller_identity()["Arn"]
    account_id = user_arn.split(":")[4]
    for name in names:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy(account_id, user_arn)))
        iam.put_role_policy(
            RoleName=name,
            PolicyName="countersign-demo-access",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )


def seed_untrusting_role(endpoint, role_name):
    """A role whose trust policy admits nobody countersign can be: AssumeRole into it fails."""
    iam = admin_client("iam", endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::123456789012:user/somebody-else"]},
            "Action": "sts:AssumeRole",
        }],
    }
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))


def main(argv):
    usage = (
        "usage: moto_bootstrap.py bootstrap ENDPOINT\n"
        "       moto_bootstrap.py seed-s3 ENDPOINT BUCKET OBJECTS_JSON\n"
        "       moto_bootstrap.py seed-dynamo ENDPOINT TABLE\n"
        "       moto_bootstrap.py seed-roles ENDPOINT ROLE_NAMES_JSON\n"
        "       moto_bootstrap.py seed-untrusting-role ENDPOINT ROLE_NAME"
    )
    if len(argv) < 2:
        fail(usage)
    mode, args = argv[1], argv[2:]
    try:
        if mode == "bootstrap" and len(args) == 1:
            bootstrap(*args)
        elif mode == "seed-s3" and len(args) == 3:
            seed_s3(*args)
        elif mode == "seed-dynamo" and len(args) == 2:
            seed_dynamo(*args)
        elif mode == "seed-roles" and len(args) == 2:
            seed_roles(*args)
        elif mode == "seed-untrusting-role" and len(args) == 2:
            seed_untrusting_role(*args)
        else:
            fail(usage)
    except ClientError as e:
        fail(f"{mode}: {e}")


if __name__ == "__main__":
    main(sys.argv)
