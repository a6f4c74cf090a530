"""pytest plugin for the peer suite (test/peer/run.js): moto's own tests in server mode.

Loaded with `-p peer_plugin` (test/peer on PYTHONPATH). It

* in the run through countersign (PEER_AGENT_KEYS=1), stops moto's `mock_aws` from replacing the
  environment's credentials with its fake FOOBARKEY/FOOBARSECRET (moto's own switch,
  `core.mock_credentials`), so the tests' boto3 clients sign with the agent key the harness put
  in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY;
* tells the harness's passthrough which test is running (POST PEER_CONTROL_URL/test), so each
  countersign refusal is charged to its test;
* writes every test's outcome to PEER_RESULTS (JSON lines: nodeid, outcome, message).
"""

import json
import os
import urllib.request

import pytest

_results_path = os.environ.get("PEER_RESULTS")
_control_url = os.environ.get("PEER_CONTROL_URL")
_results_file = None


def _tell_harness(nodeid):
    if not _control_url:
        return
    request = urllib.request.Request(
        _control_url + "/test", data=nodeid.encode("utf-8"), method="POST"
    )
    # No proxy: the passthrough listens on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=5).read()


def pytest_configure(config):
    global _results_file
    if os.environ.get("PEER_AGENT_KEYS") == "1":
        from moto.core.config import default_user_config

        default_user_config.setdefault("core", {})["mock_credentials"] = False
    if _results_path:
        _results_file = open(_results_path, "a", encoding="utf-8")


def pytest_runtest_logstart(nodeid, location):
    _tell_harness(nodeid)


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message[:600]
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2])[:600]
    return str(report.longrepr or "")[-600:]


def pytest_runtest_logreport(report):
    if _results_file is None:
        return
    outcome = None
    if report.when == "call":
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
    elif report.outcome == "failed":
        outcome = "error"  # setup or teardown failed
    elif report.when == "setup" and report.skipped:
        outcome = "skipped"
    if outcome is None:
        return
    record = {"nodeid": report.nodeid, "when": report.when, "outcome": outcome}
    if outcome in ("failed", "error"):
        record["message"] = _message(report)
    _results_file.write(json.dumps(record) + "\n")
    _results_file.flush()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _results_file is not None:
        _results_file.close()
