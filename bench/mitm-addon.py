"""mitmdump addon for bench/run.js: the one-header rewrite the design's budget names, so
mitmdump does per-request work of its own, as countersign does (which re-signs every request).

Every request through mitmdump gets `x-bench-rewritten: mitmdump` (replacing any value it had);
the bench upstream counts the requests that carry it, and the bench checks that all did.
"""


def request(flow):
    flow.request.headers["x-bench-rewritten"] = "mitmdump"
