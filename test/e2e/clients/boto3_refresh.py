"""boto3 with the container credential provider: list a bucket, wait past the credentials'
expiry (the test rotates the token file meanwhile), list again. Prints JSON
{"keys": [access key id of each call], "results": [...]}.

argv[1]: bucket; argv[2] "once": one call, no wait. Environment: AWS_CONTAINER_CREDENTIALS_FULL_URI and
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (no AWS keys), HTTPS_PROXY and AWS_CA_BUNDLE.
"""
import json
import sys
import time
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main() -> None:
    bucket = sys.argv[1]
    session = boto3.session.Session()
    s3 = session.client("s3", config=Config(retries={"max_attempts": 1}))
    keys, results = [], []
    for attempt in range(1 if sys.argv[2:] == ["once"] else 2):
        try:
            response = s3.list_objects_v2(Bucket=bucket)
            results.append({"ok": True, "keys": [o["Key"] for o in response.get("Contents", [])]})
        except ClientError as error:
            results.append({"ok": False, "code": error.response["Error"]["Code"], "message": error.response["Error"].get("Message")})
        credentials = session.get_credentials()
        keys.append(credentials.get_frozen_credentials().access_key)
        if attempt == 0 and sys.argv[2:] != ["once"]:
            # Past the expiry of the credentials just used: the next call must run on fresh ones.
            expiry = credentials._expiry_time  # botocore RefreshableCredentials: a datetime
            time.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 1.5)
            print("waited", file=sys.stderr, flush=True)
    print(json.dumps({"keys": keys, "results": results}))


if __name__ == "__main__":
    main()
