# syntax=docker/dockerfile:1
#
# countersign container image.
#
#   docker build -t countersign .            (or: scripts/image-build.sh image)
#   docker run --rm --read-only -p 8080:8080 -p 127.0.0.1:8081:8081 -p 127.0.0.1:9090:9090 \
#     -v countersign-data:/var/lib/countersign -e AWS_REGION=eu-central-1 countersign
#
# Every build step of the build stage is a call of scripts/image-build.sh, and
# test/e2e/image-steps.test.ts replays this file's build stage through that script and starts
# the result with this file's ENTRYPOINT, CMD, ENV and HEALTHCHECK, so the steps are exercised
# where no Docker engine is available. Keep RUN lines in the build stage to that script.
#
# Runtime layout (the root filesystem can be mounted read-only):
#   /app                        code and production dependencies, owned by root, not writable
#   /etc/countersign/policies   COUNTERSIGN_POLICY_DIR: the example policies; mount your own
#                               (a Kubernetes ConfigMap, hot-reloaded)
#   /var/lib/countersign        COUNTERSIGN_DATA_DIR: ca.crt, ca.key, server.key, agents.json, and
#                               without Redis the file audit log (audit.jsonl). Mount a writable
#                               volume here: countersign creates the CA and server key on first
#                               start, or they come from a Secret (the Helm chart links them in
#                               from a read-only Secret mount).

# The major of the Node.js pinned in .node-version (CI and development run that exact version).
# Every stage is on Debian 13 (trixie), as distroless publishes Node images only for it.
ARG NODE_MAJOR=26

# ---- build: all dependencies, compile, then stage the runtime tree with production deps only.
FROM node:${NODE_MAJOR}-trixie-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
COPY scripts/image-build.sh ./scripts/
RUN --mount=type=cache,target=/root/.npm bash scripts/image-build.sh deps
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN bash scripts/image-build.sh build
COPY policies ./policies
RUN --mount=type=cache,target=/root/.npm bash scripts/image-build.sh stage out

# ---- init: tini, a minimal init for PID 1 (an OS package, not a countersign build step).
# countersign handles SIGTERM and SIGINT itself (src/cli/serve.ts: close the listeners, exit 0),
# so Node as PID 1 would shut down cleanly on those. tini is there for what Node as PID 1 does
# not do: it forwards every signal (the kernel drops signals PID 1 has no handler for, so
# SIGHUP or SIGQUIT would do nothing) and reaps orphaned processes. The same effect as
# `docker run --init`, but also under Kubernetes, which has no such option.
FROM debian:trixie-slim AS init
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# ---- runtime: distroless Node 26 on Debian 13: no shell, no package manager, runs as uid/gid
# 65532 (nonroot).
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian13:nonroot
COPY --from=init /usr/bin/tini-static /usr/bin/tini
COPY --from=build /build/out/app /app
COPY --from=build /build/out/policies /etc/countersign/policies
COPY --from=build --chown=65532:65532 /build/out/data /var/lib/countersign
WORKDIR /app
ENV NODE_ENV=production \
    COUNTERSIGN_LISTEN=0.0.0.0:8080 \
    COUNTERSIGN_REVIEW_LISTEN=0.0.0.0:8081 \
    COUNTERSIGN_ADMIN_LISTEN=0.0.0.0:9090 \
    COUNTERSIGN_DATA_DIR=/var/lib/countersign \
    COUNTERSIGN_POLICY_DIR=/etc/countersign/policies
USER 65532:65532
# 8080 proxy (agents), 8081 review pages and API (reviewers), 9090 /healthz and /readyz (operators).
EXPOSE 8080 8081 9090
# No shell or curl in the image: the check is Node's fetch. It follows COUNTERSIGN_ADMIN_LISTEN's
# default port; Kubernetes ignores HEALTHCHECK and uses the chart's probes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:9090/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/nodejs/bin/node", "/app/dist/cli/main.js"]
# Any other countersign command works in its place: docker run --rm IMAGE policy check /etc/countersign/policies
CMD ["serve"]
