#!/usr/bin/env node
// `npm run demo`: opens the cockpit on a generated sample repository in the same
// VS Code host the tests use (code-server), with the packaged .vsix installed, and
// prints the address to open in a browser. Ctrl-C stops it and cleans up.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostPaths, isolatedEnv, killGroup, makeRunDir, removeDir, startCodeServer, workbenchUrl } from '../test/harness/host.mjs';
import { makeSampleWorkspace, repo } from '../test/harness/common.mjs';

const vsix = join(repo, 'dist', 'factory-cockpit.vsix');
if (!existsSync(vsix)) {
  console.error('dist/factory-cockpit.vsix is missing: run `npm run package` (npm run demo does it for you).');
  process.exit(1);
}
if (!hostPaths().complete) {
  console.log('Installing the VS Code host (code-server) once; later runs skip this…');
  execFileSync('bash', [join(repo, 'scripts', 'setup-host.sh')], { stdio: 'inherit' });
}
const runDir = makeRunDir('fc-demo-');
const workspace = join(runDir, 'sample-app');
// The demo's workspace: implement and test are owned by an offline demo agent committed in the sample,
// and teammates' branches (fetched as team/*) carry a generated history for the Flow Dashboard
// (FACTORY_SAMPLE_TEAM_HISTORY=<changes>x<weeks> to size it, 0 to leave it out).
console.log('Making the sample repository and its team history…');
const sample = makeSampleWorkspace(workspace, { demo: true });
const extensionsDir = join(runDir, 'extensions');
const { node, entry } = hostPaths();
execFileSync(node, [entry, '--extensions-dir', extensionsDir, '--user-data-dir', join(runDir, 'user-data'), '--install-extension', vsix], {
  env: isolatedEnv(runDir),
  stdio: ['ignore', 'ignore', 'inherit'],
});
const port = Number(process.env.FACTORY_DEMO_PORT ?? 0);
const server = startCodeServer({ runDir, extensionsDir, bindAddr: `127.0.0.1:${port}`, idleTimeoutSeconds: 0 });
const stop = async () => {
  await killGroup(server.child);
  removeDir(runDir);
  process.exit(0);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, stop);
const listening = await server.ready;
console.log(`\nFactory Cockpit is running on a sample repository (${sample.dir}).`);
console.log(`Open in a browser:\n\n  ${workbenchUrl(listening, workspace)}\n`);
console.log('Then click the Factory icon in the activity bar and press Run Next Stage: the offline demo agent');
console.log('(tools/demo-agent.mjs in the sample) implements the change, the tests pass, and it hands off to test and review.');
console.log("Factory: Open Flow Dashboard shows the team's history from the teammates' branches (team/*): the signal, where work gets stuck, which agent to trust per stage.");
console.log('For a real agent, change a stage\'s owner (Factory: Change Stage Owner) to Claude Code, Codex, Droid, Gemini or Aider.');
console.log('Ctrl-C stops the host and removes the sample.');
