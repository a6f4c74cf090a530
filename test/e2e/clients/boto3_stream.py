"""Reads one event-stream answer with boto3 and tells the upstream once the first event is in.

argv[1]: JSON {"call": "converse_stream" | "invoke_with_response_stream", "params": {...},
               "release": "http://127.0.0.1:PORT/release"}
Environment: the agent's (AWS keys, HTTPS_PROXY, AWS_CA_BUNDLE).

The upstream holds the rest of its answer until `release` is fetched (directly, not through the
proxy). If anything between them buffered the answer, the first event would never arrive
before the rest was sent. Prints {"events": [...], "released_after_first": bool}.
"""
import json
import sys
import urllib.request

import boto3
from botocore.config import Config


def main() -> None:
    spec = json.loads(sys.argv[1])
    service = "bedrock-runtime" if spec["call"] == "converse_stream" else "lambda"
    client = boto3.session.Session().client(service, config=Config(retries={"max_attempts": 1}, read_timeout=30))
    response = getattr(client, spec["call"])(**spec["params"])
    stream = response["stream"] if "stream" in response else response["EventStream"]
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    events = []
    released = False
    for event in stream:
        events.append(json.loads(json.dumps(event, default=lambda b: b.decode("utf-8"))))
        if not released:
            released = direct.open(spec["release"], timeout=5).read().decode() == "released before timeout"
    print(json.dumps({"events": events, "released_after_first": released}))


if __name__ == "__main__":
    main()
