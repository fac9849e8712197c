// The review of a large change: 200 attempts over the five stages, a verification run
// with a report per attempt, and one attempt with a 50 MB transcript. Prints the time
// until the review panel's first step can be drawn (what the host does before the
// webview draws it: read and fold the record, judge the signal, build the timeline
// and steps, and the overview-with-first-step message built and checked against the
// protocol) beside reading the same record's event files and parsing them (JSON.parse
// only); then what follows it progressively (the first step's evidence re-hashed and
// its reports read, the timeline) and the on-demand cost of the big transcript's
// step. Never fails on time. Goal: first step in under a second.
//   node --import tsx bench/review.ts [attempts] [transcriptMB]
//   node --import tsx bench/review.ts --build <dir> [attempts] [transcriptMB]   (adds the change only; prints its id)
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { monotonicFactory } from 'ulid';
import { createFactory } from '../src/engine/factory';
import { parseReviewHostMessage, reviewMessages } from '../src/engine/reviewView';

const ATTEMPTS = process.argv[2] === '--build' ? 200 : Number(process.argv[2] ?? 200);
const TRANSCRIPT_MB = process.argv[2] === '--build' ? 50 : Number(process.argv[3] ?? 50);

function line(label: string, ms: number, extra = ''): void {
  console.log(`${label.padEnd(62)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
}

async function time<T>(label: string, fn: () => Promise<T> | T, extra?: (result: T) => string): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  line(label, ms, extra?.(result));
  return { ms, result };
}

/** A claude-code stream-json transcript of about `bytes`: text, tool calls and their results. */
async function* bigTranscript(dir: string, bytes: number): AsyncGenerator<string> {
  let written = 0;
  let n = 0;
  const out = (value: unknown) => {
    const text = JSON.stringify({ stream: 'stdout', line: JSON.stringify(value) }) + '\n';
    written += text.length;
    return text;
  };
  yield out({ type: 'system', subtype: 'init', cwd: dir, session_id: 'bench', model: 'claude-sonnet-4-5', tools: ['Read', 'Bash'] });
  const filler = 'lorem ipsum dolor sit amet '.repeat(12);
  while (written < bytes) {
    n++;
    let chunk = out({ type: 'assistant', message: { id: `m${n}`, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: `Step ${n}: ${filler}` }], usage: { input_tokens: 10, output_tokens: 5 } } });
    chunk += out({ type: 'assistant', message: { id: `t${n}`, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'tool_use', id: `tool${n}`, name: 'Bash', input: { command: `echo ${n}` } }], usage: { input_tokens: 10, output_tokens: 5 } } });
    chunk += out({ type: 'user', message: { role: 'user', content: [{ tool_use_id: `tool${n}`, type: 'tool_result', content: `${n}\n${filler}` }] } });
    yield chunk;
  }
  yield out({ type: 'result', subtype: 'success', is_error: false, duration_ms: 1000, num_turns: n, result: 'Done.', total_cost_usd: 1.5 });
}

/** Adds the large change to the repository at `dir` (made when missing); returns its id and the big transcript's hash. */
export async function buildLargeChange(dir: string, attempts = ATTEMPTS, transcriptMb = TRANSCRIPT_MB): Promise<{ changeId: string; bigSha: string }> {
  await fs.mkdir(dir, { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  if (!existsSync(path.join(dir, '.git'))) {
    git('init', '-q', '-b', 'main');
    git('config', 'user.name', 'Bench');
    git('config', 'user.email', 'bench@example.com');
    writeFileSync(path.join(dir, 'README.md'), '# bench\n');
    git('add', '-A');
    git('commit', '-qm', 'init');
  }
  const tree = git('rev-parse', 'HEAD^{tree}');
  const commit = git('rev-parse', 'HEAD');

  let clock = Date.now() - 30 * 24 * 3600_000;
  const factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true }, clock: { now: () => new Date(clock) } });
  const { pipeline } = await factory.store.loadPipeline({ createIfMissing: true });
  const stages = pipeline!.stages.map((s) => s.id);
  const ulid = monotonicFactory();
  const by = { name: 'Bench', email: 'bench@example.com' };
  const changeId = factory.store.newChangeId('Large review');

  await factory.store.append(changeId, { type: 'change.created', by, data: { title: 'Large review', ticket: 'BENCH-1' } });
  const edit = await factory.context.addNote(changeId, { text: 'The ticket.' });
  let version = edit.pack.version;
  const big = await factory.evidence.put(bigTranscript(dir, transcriptMb * 1024 * 1024), { name: 'transcript.jsonl', mediaType: 'application/x-ndjson' });
  const perStage = Math.ceil(attempts / stages.length);
  let made = 0;
  for (const stageId of stages) {
    for (let i = 0; i < perStage && made < attempts; i++, made++) {
      clock += 60_000;
      const attemptId = ulid(clock);
      await factory.store.append(changeId, { type: 'attempt.started', by, data: { stageId, attemptId, backend: 'claude-code', model: 'claude-sonnet-4-5', prompt: `Do ${stageId}, attempt ${i + 1}.`, contextVersion: version, number: i + 1, trigger: i ? 'retry' : 'run', start: { commit, tree } } });
      clock += 120_000;
      const transcript = made === 0 ? big : await factory.evidence.put(`{"stream":"stdout","line":"attempt ${made}"}\n`, { name: 'transcript.jsonl' });
      await factory.store.append(changeId, { type: 'attempt.finished', by, data: { stageId, attemptId, outcome: i < perStage - 1 ? 'failed' : 'succeeded', reason: i < perStage - 1 ? 'tests failed' : undefined, durationMs: 120_000, usage: { inputTokens: 1000, outputTokens: 100, costUsd: 0.01 }, end: { commit, tree }, transcript } });
      const report = await factory.evidence.put(`<testsuite tests="1" failures="${i < perStage - 1 ? 1 : 0}"/>\n#${made}`, { name: 'junit.xml', mediaType: 'application/xml' });
      await factory.store.append(changeId, { type: 'verification.recorded', by, data: { stageId, attemptId, criterionId: 'tests', outcome: i < perStage - 1 ? 'failed' : 'passed', required: true, evidence: [report], verified: { tree } } });
    }
    const out = await factory.context.addNote(changeId, { text: `${stageId} output`, stageId });
    version = out.pack.version;
    await factory.store.append(changeId, { type: 'handoff.recorded', by, data: { fromStage: stageId, contextVersion: version, outputs: [], at: { commit, tree } } });
  }
  return { changeId, bigSha: big.sha256 };
}

async function main(): Promise<void> {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'fc-bench-review-')), 'repo');
  console.log(`Building a change with ${ATTEMPTS} attempts and a ${TRANSCRIPT_MB} MB transcript in ${dir}…`);
  const build = performance.now();
  const { changeId, bigSha } = await buildLargeChange(dir);
  const factory = createFactory({ root: dir, settings: { get: () => undefined }, secrets: { get: async () => undefined }, trust: { isTrusted: () => true } });
  line('built (not part of the measure)', performance.now() - build);

  const eventsDir = path.join(dir, '.factory', 'changes', changeId, 'events');
  const readFiles = async () => {
    const names = await fs.readdir(eventsDir);
    return Promise.all(names.map(async (n) => JSON.parse(await fs.readFile(path.join(eventsDir, n), 'utf8')) as unknown));
  };

  for (const round of ['cold', 'warm']) {
    console.log(`\n-- ${round}`);
    const base = await time(`read the change's event files + JSON.parse`, readFiles, (r) => `${r.length} files`);
    const checked = (message: unknown) => {
      const parsed = parseReviewHostMessage(JSON.parse(JSON.stringify(message)) as unknown);
      if (!parsed.ok) throw new Error(parsed.error);
      return JSON.stringify(message).length;
    };
    const opened = await time('  read and fold the record, build the review', () => factory.review.open(changeId), (s) => `${s.model.steps.length} steps, ${s.model.timeline.length} timeline rows`);
    const session = opened.result;
    // The panel's own sequence: the overview with the first step, then that step checked.
    const messages = reviewMessages(factory.review, session, { trusted: true, readOnly: false }, session.record.state.stages.map((s) => ({ id: s.id, title: s.title, status: s.status })));
    const message = await time('  overview + first step message, checked', async () => checked((await messages.next()).value), (bytes) => `${(bytes / 1024).toFixed(0)} KB`);
    const firstMs = opened.ms + message.ms;
    line('review panel: first step ready to draw', firstMs, `${(firstMs / base.ms).toFixed(1)}× reading the files; goal: under 1000 ms (${firstMs < 1000 ? 'met' : 'NOT met'})`);
    const step = session.model.steps[0]!;
    await time('then: its evidence re-hashed, its reports read, sent again', async () => checked((await messages.next()).value), (bytes) => `${step.kind === 'stage' ? step.verifications.length : 0} verification runs, ${(bytes / 1024).toFixed(0)} KB`);
    await time('then: the timeline (asked for once the step is drawn)', () => checked({ type: 'reply', id: 1, result: { kind: 'timeline', rows: session.model.timeline } }), (bytes) => `${(bytes / 1024).toFixed(0)} KB`);
    const bigStep = session.model.steps.find((s) => s.kind === 'attempt' && s.transcript?.ref.sha256 === bigSha);
    if (bigStep && bigStep.kind === 'attempt') {
      await time(`the ${TRANSCRIPT_MB} MB transcript's step (on demand: re-hash + replay)`, async () => {
        const t = await factory.review.transcript(session, bigStep.attemptId);
        const message = parseReviewHostMessage(JSON.parse(JSON.stringify({ type: 'reply', id: 2, result: { kind: 'transcript', attemptId: bigStep.attemptId, ...t } })) as unknown);
        if (!message.ok) throw new Error(message.error);
        return t;
      }, (t) => `${t.entries.length} entries kept (${t.dropped.events} earlier events summarized), ${t.integrity}`);
    }
  }
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
}

if (process.argv[1] && /review\.ts$/.test(process.argv[1])) {
  // `--build <dir>`: only add the large change (bench/review-host.mjs measures it in the real host).
  const build = process.argv[2] === '--build' ? process.argv[3] : undefined;
  (build ? buildLargeChange(path.resolve(build), Number(process.argv[4] ?? ATTEMPTS), Number(process.argv[5] ?? TRANSCRIPT_MB)).then((r) => console.log(JSON.stringify(r))) : main()).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
