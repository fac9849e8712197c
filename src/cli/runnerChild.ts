// The detached runner itself (`run --runner-child`, started by
// engine/detachedStart.ts): it reads its spec on stdin, claims the change (one runner
// per change), builds the factory with the settings and secrets it was given, runs
// the stage, and reports as it goes to its events file (detachedRun.ts) so any
// surface can show the run live. It answers its starter with one line on stdout once
// the attempt has started (or it refused), then writes only to its log, the events
// file and the record. SIGTERM or SIGINT stops the attempt (the backend kills the
// agent's whole process tree; the attempt is recorded as cancelled); it ends by itself.
import { appendFileSync } from 'node:fs';
import { createFactory, type RunReport } from '../engine/factory';
import { onSpawnedGroupsChange } from '../backends/processTree';
import { HEARTBEAT_MS, RunnerRefusal, RunnerRegistry, type RunnerLine } from '../engine/detachedRun';
import type { DetachedSpec, RunnerHandshake } from '../engine/detachedStart';
import { exitCodeOf, exitCodeOfReport } from './commands';
import { EXIT } from './paths';

async function readStdin(): Promise<string> {
  let data = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) data += chunk as string;
  return data;
}

export async function runnerChild(): Promise<number> {
  // The starter reads one line and goes away: a later write must not kill the runner.
  process.stdout.on('error', () => undefined);
  let answered = false;
  const answer = (value: RunnerHandshake) => {
    if (answered) return;
    answered = true;
    try {
      process.stdout.write(`${JSON.stringify(value)}\n`);
    } catch {
      /* the starter is gone */
    }
  };
  let spec: DetachedSpec;
  try {
    spec = JSON.parse(await readStdin()) as DetachedSpec;
  } catch (error) {
    answer({ ok: false, exitCode: EXIT.usage, error: `The runner got no valid spec on stdin: ${String(error)}` });
    return EXIT.usage;
  }
  const registry = new RunnerRegistry(spec.root);
  const log = (message: string) => registry.logLine(`${spec.changeId}: ${message}`);
  log(`runner started by the ${spec.startedBy}: ${spec.mode}${spec.stageId ? ` ${spec.stageId}` : ''} (node ${process.version})`);
  try {
    await registry.claim({ changeId: spec.changeId, startedBy: spec.startedBy, ...(spec.stageId ? { stageId: spec.stageId } : {}) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`refused: ${message}`);
    answer({ ok: false, exitCode: EXIT.failed, error: message, ...(error instanceof RunnerRefusal ? { running: error.running } : {}) });
    return EXIT.failed;
  }
  const safely = (write: () => void) => {
    try {
      write();
    } catch (error) {
      log(`could not update the runner record: ${String(error)}`);
    }
  };
  const eventsFile = registry.eventsFileOf(spec.changeId);
  const emit = (line: RunnerLine) => {
    try {
      appendFileSync(eventsFile, `${JSON.stringify(line)}\n`);
    } catch (error) {
      log(`could not write the events file: ${String(error)}`);
    }
  };

  let stopRequested = false;
  const factory = createFactory({
    root: spec.root,
    settings: { get: <T>(key: string) => spec.settings[key] as T | undefined },
    secrets: { get: (name) => Promise.resolve(spec.secrets[name] || process.env[name] || undefined) },
    trust: { isTrusted: () => spec.trusted },
    isAlive: (pid) => registry.isAlive(pid),
    log: { info: log, warn: (m) => log(`warn: ${m}`), error: (m) => log(`error: ${m}`) },
    onProblem: (p) => log(`record problem: ${p.path}${p.field ? ` (${p.field})` : ''}: ${p.message}`),
    observer: {
      attemptStarted: (info) => {
        emit({ t: 'attemptStarted', info, prompt: info.prompt });
        safely(() => registry.update(spec.changeId, { stageId: info.stageId, attemptId: info.attemptId, backend: info.backend }));
        log(`attempt ${info.attemptId} of ${info.stageId} started (${info.backend})`);
        answer({ ok: true, pid: process.pid, attemptId: info.attemptId, stageId: info.stageId });
        // A stop that came before the attempt existed applies now.
        if (stopRequested) void factory.stop(spec.changeId);
      },
      agentEvent: (info, event) => emit({ t: 'agentEvent', info, event }),
      attemptFinished: (info, result, verification) => {
        emit({ t: 'attemptFinished', info, result, ...(verification ? { verification } : {}) });
        log(`attempt ${info.attemptId} of ${info.stageId} ${result.outcome}${result.reason ? `: ${result.reason}` : ''}`);
      },
      gate: (gate) => {
        emit({ t: 'gate', gate });
        log(`gate ${gate.reason}: ${gate.detail}`);
      },
      changed: () => emit({ t: 'changed' }),
    },
  });
  const heartbeat = setInterval(() => safely(() => registry.update(spec.changeId, {})), HEARTBEAT_MS);
  // Every agent group the moment it is spawned (and when it ended): whoever finds this
  // runner dead, or kills it after Stop's grace, ends them from the record.
  onSpawnedGroupsChange((agents) => safely(() => registry.update(spec.changeId, { agents })));
  const onStop = (signal: string) => {
    log(`${signal}: stopping the attempt`);
    stopRequested = true;
    void factory.stop(spec.changeId);
  };
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGHUP', () => undefined);

  let report: RunReport | undefined;
  let error: string | undefined;
  let code: number;
  try {
    report =
      spec.mode === 'retry'
        ? await factory.retry({ changeId: spec.changeId, stageId: spec.stageId ?? '' })
        : spec.mode === 'next'
          ? await factory.runNext(spec.changeId, spec.advance)
          : await factory.run({ changeId: spec.changeId, stageId: spec.stageId!, outOfOrder: Boolean(spec.outOfOrder), advance: spec.advance });
    code = exitCodeOfReport(report);
    log(`run ended: ${report.stopped} — ${report.detail}`);
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    code = exitCodeOf(e);
    log(`run failed: ${error}`);
  }
  clearInterval(heartbeat);
  emit({ t: 'ended', exitCode: code, ...(report ? { report } : {}), ...(error ? { error } : {}) });
  const end = { changeId: spec.changeId, pid: process.pid, endedAt: new Date().toISOString(), exitCode: code, ...(report ? { report } : {}), ...(error ? { error } : {}) };
  await registry.release(spec.changeId, end);
  if (error) answer({ ok: false, exitCode: code, error, pid: process.pid });
  else answer({ ok: true, pid: process.pid, ...(report ? { stageId: report.stageId } : {}), ended: end });
  return code;
}
