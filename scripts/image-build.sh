#!/usr/bin/env bash
# The container image's build steps, in one place. The Dockerfile's build stage runs them
# (RUN bash scripts/image-build.sh ...), and test/e2e/image-steps.test.ts runs the same
# Dockerfile steps through this script on machines without a Docker engine, then starts the
# staged tree with the image's ENTRYPOINT, CMD and ENV and runs its HEALTHCHECK.
#
#   scripts/image-build.sh deps        npm ci (all dependencies, no install scripts)
#   scripts/image-build.sh build       tsc: src/ -> dist/
#   scripts/image-build.sh stage OUT   the runtime tree, copied as-is into the image:
#                                        OUT/app       package.json, lock, dist/, production node_modules
#                                        OUT/policies  the example policies (/etc/countersign/policies)
#                                        OUT/data      an empty data directory (/var/lib/countersign)
#   scripts/image-build.sh all [OUT]   deps, build and stage (OUT defaults to $TMPDIR/countersign-image)
#   scripts/image-build.sh image [TAG] docker build (needs a Docker engine; TAG defaults to countersign:dev)
#
# Paths are relative to the build context root (the repository root, or the image's WORKDIR),
# which is where the script changes to first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

npm_flags=(--no-audit --no-fund --prefer-offline)

deps() {
  # --ignore-scripts: the prepare script would build before src/ is copied in; `build` does it.
  npm ci --ignore-scripts "${npm_flags[@]}"
}

build() {
  rm -rf dist
  npm run build
}

stage() {
  local out="${1:?usage: image-build.sh stage OUT}"
  [ -f dist/cli/main.js ] || { echo "image-build.sh: dist/cli/main.js is missing; run the build step first" >&2; exit 1; }
  rm -rf "$out"
  mkdir -p "$out/app" "$out/policies" "$out/data"
  # package.json is needed at run time: "type": "module" makes dist/*.js ES modules.
  cp package.json package-lock.json "$out/app/"
  cp -R dist "$out/app/dist"
  find "$out/app/dist" -name '*.map' -delete
  # Production dependencies only, from the lock file; none of them needs an install script.
  (cd "$out/app" && npm ci --omit=dev --ignore-scripts "${npm_flags[@]}")
  cp policies/*.yaml "$out/policies/"
  rm -f "$out/policies/"*.test.yaml
  chmod 0700 "$out/data"
  # Nothing in the runtime tree is writable by the process: the image runs as a non-root user.
  chmod -R go-w "$out/app" "$out/policies"
}

case "${1:-}" in
  deps) deps ;;
  build) build ;;
  stage) stage "${2:-}" ;;
  all)
    deps
    build
    stage "${2:-${TMPDIR:-/tmp}/countersign-image}"
    ;;
  image)
    command -v docker >/dev/null 2>&1 || { echo "image-build.sh: docker not found" >&2; exit 1; }
    DOCKER_BUILDKIT=1 docker build -t "${2:-countersign:dev}" .
    ;;
  *)
    sed -n '2,14p' "$root/scripts/image-build.sh" >&2
    exit 2
    ;;
esac
