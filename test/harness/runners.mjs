// The detached runners a test run caused (a stage run started from the editor or the
// CLI outlives the window, by design): they register under the run's cache folder
// (XDG_CACHE_HOME=<runDir>/cache, see host.mjs), so the harness finds and ends them —
// SIGTERM first (a runner then stops its agent's whole process tree), SIGKILL after 5 s.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every runner record under `<runDir>/cache/factory-cockpit/<repo>/runners/`. */
export function runnerRecords(runDir) {
  const root = join(runDir, 'cache', 'factory-cockpit');
  if (!existsSync(root)) return [];
  const records = [];
  for (const repo of readdirSync(root)) {
    const dir = join(root, repo, 'runners');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json') || name.endsWith('.last.json')) continue;
      try {
        records.push(JSON.parse(readFileSync(join(dir, name), 'utf8')));
      } catch {
        /* torn */
      }
    }
  }
  return records;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Ends every runner the run left; resolves with the pids it had to end. */
export async function endRunners(runDir) {
  const pids = runnerRecords(runDir).map((r) => r.pid).filter((pid) => typeof pid === 'number' && alive(pid));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* not a group leader */
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (pids.length) console.log(`  (ended ${pids.length} detached runner(s) the suite left: ${pids.join(', ')})`);
  return pids;
}
