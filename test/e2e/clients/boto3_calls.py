"""Runs boto3 calls given as JSON and prints their outcomes as JSON (one list).

argv[1]: JSON list of {"service": "s3", "op": "get_object", "params": {...}, "read_body": bool}
Environment: the agent's (AWS keys, HTTPS_PROXY, AWS_CA_BUNDLE or AWS_ENDPOINT_URL).
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main() -> None:
    calls = json.loads(sys.argv[1])
    session = boto3.session.Session()
    clients = {}
    results = []
    for call in calls:
        service = call["service"]
        if service not in clients:
            clients[service] = session.client(service, config=Config(retries={"max_attempts": 1}))
        try:
            response = getattr(clients[service], call["op"])(**call.get("params", {}))
            response.pop("ResponseMetadata", None)
            if call.get("read_body"):
                response["Body"] = response["Body"].read().decode("utf-8")
            results.append({"ok": True, "result": json.loads(json.dumps(response, default=str))})
        except ClientError as error:
            results.append({
                "ok": False,
                "code": error.response["Error"].get("Code"),
                "message": error.response["Error"].get("Message"),
                "status": error.response["ResponseMetadata"].get("HTTPStatusCode"),
            })
    print(json.dumps(results))


if __name__ == "__main__":
    main()
