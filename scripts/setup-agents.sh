#!/usr/bin/env bash
# Installs the real agent CLIs the host tests run against a local mock model (see
# ../shared/AGENT-CLIS.md): today Claude Code's native binary, from npm, into a cache
# folder outside the clone; a marker written after a complete install makes later
# runs skip the work. Nothing here reaches a model service: the tests point the CLI at
# test/fixtures/agents/mock-model-server.mjs on 127.0.0.1.
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.332
CACHE="${FACTORY_AGENTS_CACHE:-$HOME/.cache/factory-cockpit-agents}"
DIR="$CACHE/claude-code-$CLAUDE_CODE_VERSION"

if [ ! -f "$DIR/.complete" ]; then
  echo "[setup-agents] installing Claude Code $CLAUDE_CODE_VERSION (native binary) into $DIR"
  rm -rf "$DIR" && mkdir -p "$DIR"
  (cd "$DIR" && echo '{"name":"factory-cockpit-agents","private":true}' > package.json \
    && npm install --no-audit --no-fund --loglevel=error --ignore-scripts "@anthropic-ai/claude-code-linux-x64@$CLAUDE_CODE_VERSION")
  "$DIR/node_modules/@anthropic-ai/claude-code-linux-x64/claude" --version >/dev/null
  touch "$DIR/.complete"
fi
echo "[setup-agents] ready: $DIR/node_modules/@anthropic-ai/claude-code-linux-x64/claude"
