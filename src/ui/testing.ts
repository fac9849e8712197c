// The Testing view's side of verification: each stage of the current change with its
// criteria as tests (stage → criteria). Running them (all, a stage, one criterion)
// goes through the engine's verifyStage, so results land in the record like any other
// run; output, failures (with expected/actual diffs and locations from the reports)
// and outcomes show natively. Results that arrive in the record from elsewhere (the
// Verify commands, the stage engine, the CLI, a teammate's branch) are shown too, and
// a result verified at another working tree than the current one shows as outdated.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { notify } from './surface';
import type { ChangeState, CriterionResult as RecordedResult } from '../core/fold';
import type { Criterion, Pipeline } from '../core/pipeline';
import type { CriterionResult, TestCase, TestProblem } from '../engine/verification';
import type { Cockpit, CockpitSnapshot } from './cockpit';
import { stageStatusLabel } from './presentation';
import type { VerificationService } from './verification';

export const TEST_CONTROLLER_ID = 'factory.verification';

interface ItemInfo {
  changeId: string;
  stageId: string;
  criterion?: Criterion;
}

interface Shown {
  /** `at|outcome` of the recorded result the view shows. */
  key: string;
  /** The working tree that result verified. */
  tree?: string;
}

const KIND_LABELS: Record<Criterion['kind'], string> = {
  command: 'command',
  testReport: 'test report',
  screenshot: 'screenshot',
  fileExists: 'file exists',
  humanApproval: 'human approval',
};

/** At most this many failing test cases become messages of one criterion. */
const MAX_CASE_MESSAGES = 20;

export function registerTestController(cockpit: Cockpit, service: VerificationService, log: vscode.LogOutputChannel): vscode.Disposable {
  const tests = new VerificationTests(cockpit, service, log);
  return tests;
}

class VerificationTests implements vscode.Disposable {
  private readonly controller = vscode.tests.createTestController(TEST_CONTROLLER_ID, 'Factory Verification');
  private readonly info = new Map<string, ItemInfo>();
  private readonly items = new Map<string, vscode.TestItem>();
  private readonly shown = new Map<string, Shown>();
  /** Item id → the current tree at which its result was marked outdated. */
  private readonly invalidated = new Map<string, string>();
  /** Items a run in this window is checking: their results come from the run, not the record. */
  private readonly running = new Set<string>();
  private syncing: Promise<void> = Promise.resolve();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly cockpit: Cockpit,
    private readonly service: VerificationService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.controller.createRunProfile('Verify', vscode.TestRunProfileKind.Run, (request, token) => this.run(request, token), true);
    this.controller.refreshHandler = async () => {
      await this.cockpit.refresh();
    };
    this.disposables.push(this.controller, cockpit.onDidChange((s) => this.scheduleSync(s)));
    this.scheduleSync(cockpit.state);
  }

  private scheduleSync(snapshot: CockpitSnapshot): void {
    this.syncing = this.syncing.then(() => this.sync(snapshot)).catch((error: unknown) => this.log.error(`Testing view: ${error instanceof Error ? error.stack : String(error)}`));
  }

  // ---- items ---------------------------------------------------------------------------

  private async sync(snapshot: CockpitSnapshot): Promise<void> {
    if (!snapshot.ready) return;
    const change = snapshot.current;
    const pipeline = snapshot.pipeline;
    if (!change || !pipeline) {
      this.controller.items.replace([]);
      return;
    }
    const { uri, ranges } = await this.locate(pipeline);
    const stageItems: vscode.TestItem[] = [];
    const wanted = new Set<string>();
    pipeline.stages.forEach((stage, stageIndex) => {
      if (stage.verification.length === 0) return;
      const state = change.stages.find((s) => s.id === stage.id);
      const stageItem = this.item(`${change.id}/${stage.id}`, stage.title, uri, { changeId: change.id, stageId: stage.id });
      stageItem.description = `stage · ${state ? stageStatusLabel(state.status) : 'pending'}`;
      stageItem.sortText = String(stageIndex).padStart(3, '0');
      stageItem.range = ranges.get(stage.id);
      const children = stage.verification.map((criterion, index) => {
        const child = this.item(`${change.id}/${stage.id}/${criterion.id}`, criterion.title ?? criterion.id, uri, { changeId: change.id, stageId: stage.id, criterion });
        child.description = `${KIND_LABELS[criterion.kind]} · ${criterion.required ? 'required' : 'advisory'}`;
        child.sortText = String(index).padStart(3, '0');
        child.range = ranges.get(`${stage.id}/${criterion.id}`);
        wanted.add(child.id);
        return child;
      });
      stageItem.children.replace(children);
      wanted.add(stageItem.id);
      stageItems.push(stageItem);
    });
    this.controller.items.replace(stageItems);
    for (const id of [...this.items.keys()]) {
      if (!wanted.has(id)) {
        this.items.delete(id);
        this.info.delete(id);
      }
    }
    this.showRecorded(change, snapshot.currentTree);
  }

  /** An item by id, re-created only when its file changed (a TestItem's uri is fixed). */
  private item(id: string, label: string, uri: vscode.Uri | undefined, info: ItemInfo): vscode.TestItem {
    let item = this.items.get(id);
    if (!item || item.uri?.toString() !== uri?.toString()) {
      item = this.controller.createTestItem(id, label, uri);
      this.items.set(id, item);
    }
    item.label = label;
    this.info.set(id, info);
    return item;
  }

  /** Where each stage and criterion is defined in pipeline.json, for "Go to Test" and gutter icons. */
  private async locate(pipeline: Pipeline): Promise<{ uri?: vscode.Uri; ranges: Map<string, vscode.Range> }> {
    const ranges = new Map<string, vscode.Range>();
    const uri = vscode.Uri.file(this.cockpit.factory.store.pipelinePath);
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return { ranges };
    }
    const at = (offset: number) => {
      const before = text.slice(0, offset);
      const line = before.split('\n').length - 1;
      const position = new vscode.Position(line, offset - (before.lastIndexOf('\n') + 1));
      return new vscode.Range(position, position);
    };
    const idAt = (id: string, from: number) => {
      const pattern = new RegExp(`"id"\\s*:\\s*${escapeRegExp(JSON.stringify(id))}`, 'g');
      pattern.lastIndex = from;
      return pattern.exec(text)?.index;
    };
    const stageStarts = pipeline.stages.map((stage) => ({ stage, offset: idAt(stage.id, 0) }));
    stageStarts.forEach(({ stage, offset }, i) => {
      if (offset === undefined) return;
      ranges.set(stage.id, at(offset));
      const end = stageStarts.slice(i + 1).find((s) => s.offset !== undefined && s.offset > offset)?.offset ?? text.length;
      const criteriaFrom = text.indexOf('"verification"', offset);
      if (criteriaFrom < 0 || criteriaFrom > end) return;
      for (const criterion of stage.verification) {
        const found = idAt(criterion.id, criteriaFrom);
        if (found !== undefined && found < end) ranges.set(`${stage.id}/${criterion.id}`, at(found));
      }
    });
    return { uri, ranges };
  }

  // ---- results from the record ------------------------------------------------------------

  /** Shows recorded results this view has not shown yet, and marks results of another tree as outdated. */
  private showRecorded(change: ChangeState, currentTree: string | undefined): void {
    const isStale = (tree: string | undefined) => currentTree !== undefined && tree !== undefined && tree !== currentTree;
    // A result that is current again (the edit was undone) is shown again.
    for (const [id, tree] of this.invalidated) {
      const shown = this.shown.get(id);
      if (shown && !isStale(shown.tree) && tree !== currentTree) {
        this.shown.delete(id);
        this.invalidated.delete(id);
      }
    }
    const fresh: [vscode.TestItem, RecordedResult][] = [];
    for (const stage of change.stages) {
      for (const result of stage.results) {
        const item = this.items.get(`${change.id}/${stage.id}/${result.criterionId}`);
        if (!item || this.running.has(item.id)) continue;
        if (this.shown.get(item.id)?.key === `${result.at}|${result.outcome}`) continue;
        fresh.push([item, result]);
      }
    }
    if (fresh.length > 0) {
      const run = this.controller.createTestRun(new vscode.TestRunRequest(fresh.map(([item]) => item)), 'Recorded verification', false);
      for (const [item, result] of fresh) {
        const message = new vscode.TestMessage(result.message ?? result.outcome);
        if (result.outcome === 'passed') run.passed(item);
        else if (result.outcome === 'failed') run.failed(item, message);
        else if (result.outcome === 'error') run.errored(item, message);
        else run.skipped(item);
        this.shown.set(item.id, { key: `${result.at}|${result.outcome}`, ...(result.verifiedTree ? { tree: result.verifiedTree } : {}) });
        this.invalidated.delete(item.id);
      }
      run.end();
    }
    const outdated: vscode.TestItem[] = [];
    for (const [id, shown] of this.shown) {
      const item = this.items.get(id);
      if (!item || this.running.has(id) || !isStale(shown.tree) || this.invalidated.get(id) === currentTree) continue;
      this.invalidated.set(id, currentTree!);
      outdated.push(item);
    }
    if (outdated.length > 0) this.controller.invalidateTestResults(outdated);
  }

  // ---- running -------------------------------------------------------------------------

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const groups = this.selection(request);
    const testRun = this.controller.createTestRun(request);
    const all = groups.flatMap((g) => g.items);
    const refusal = this.service.refusal();
    if (refusal) {
      // Nothing is spawned: every requested criterion is shown as not run, with the reason.
      testRun.appendOutput(`Not run: ${refusal}\r\n`);
      all.forEach((item) => testRun.skipped(item));
      testRun.end();
      void notify.warn(`Factory: verification did not run. ${refusal}`);
      return;
    }
    all.forEach((item) => {
      testRun.enqueued(item);
      this.running.add(item.id);
    });
    try {
      for (const group of groups) {
        await this.runGroup(testRun, group, token);
      }
    } finally {
      all.forEach((item) => this.running.delete(item.id));
      testRun.end();
      this.scheduleSync(this.cockpit.state);
    }
  }

  private async runGroup(testRun: vscode.TestRun, group: { changeId: string; stageId: string; items: vscode.TestItem[] }, token: vscode.CancellationToken): Promise<void> {
    const byCriterion = new Map(group.items.map((item) => [this.info.get(item.id)!.criterion!.id, item]));
    const finished = new Set<string>();
    if (token.isCancellationRequested) {
      group.items.forEach((item) => testRun.skipped(item));
      return;
    }
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    try {
      await this.service.verify({
        changeId: group.changeId,
        stageId: group.stageId,
        criterionIds: [...byCriterion.keys()],
        signal: abort.signal,
        progress: {
          criterionStarted: (criterion) => {
            const item = byCriterion.get(criterion.id);
            if (!item) return;
            testRun.started(item);
            const argv = criterion.kind === 'command' || criterion.kind === 'testReport' ? `  $ ${criterion.argv.join(' ')}` : '';
            testRun.appendOutput(`▶ ${criterion.title ?? criterion.id}${argv}\r\n`, undefined, item);
          },
          output: (criterion, _stream, text) => {
            const item = byCriterion.get(criterion.id);
            if (item) testRun.appendOutput(crlf(text), undefined, item);
          },
          criterionFinished: (criterion, result) => {
            const item = byCriterion.get(criterion.id);
            if (!item) return;
            finished.add(criterion.id);
            testRun.appendOutput(`■ ${criterion.title ?? criterion.id}: ${result.outcome} — ${crlf(result.message)}\r\n`, undefined, item);
            this.report(testRun, item, result);
          },
        },
        onRecorded: (event, result) => {
          const item = byCriterion.get(result.criterionId);
          if (!item) return;
          this.shown.set(item.id, { key: `${event.at}|${result.outcome}`, ...(result.verified.tree ? { tree: result.verified.tree } : {}) });
          this.invalidated.delete(item.id);
        },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`Verification of ${group.stageId} failed: ${message}`);
      testRun.appendOutput(`${crlf(message)}\r\n`);
      for (const [id, item] of byCriterion) if (!finished.has(id)) testRun.errored(item, new vscode.TestMessage(message));
      return;
    } finally {
      cancel.dispose();
    }
    // Criteria the run never reached (cancelled, or stopped early) are shown as not run.
    for (const [id, item] of byCriterion) if (!finished.has(id)) testRun.skipped(item);
  }

  /** The requested criteria, grouped by stage in pipeline order. */
  private selection(request: vscode.TestRunRequest): { changeId: string; stageId: string; items: vscode.TestItem[] }[] {
    const excluded = new Set((request.exclude ?? []).map((item) => item.id));
    const picked = new Map<string, vscode.TestItem>();
    const add = (item: vscode.TestItem) => {
      if (excluded.has(item.id)) return;
      const info = this.info.get(item.id);
      if (!info) return;
      if (info.criterion) picked.set(item.id, item);
      else item.children.forEach(add);
    };
    if (request.include) request.include.forEach(add);
    else this.controller.items.forEach(add);
    const groups = new Map<string, { changeId: string; stageId: string; items: vscode.TestItem[] }>();
    // Stages run in pipeline order, and each stage's criteria in the order they are defined.
    const stages = this.cockpit.state.pipeline?.stages ?? [];
    const rank = (item: vscode.TestItem) => {
      const info = this.info.get(item.id)!;
      const stageIndex = stages.findIndex((s) => s.id === info.stageId);
      const criterionIndex = stages[stageIndex]?.verification.findIndex((c) => c.id === info.criterion?.id) ?? 0;
      return stageIndex * 10_000 + criterionIndex;
    };
    for (const item of [...picked.values()].sort((a, b) => rank(a) - rank(b))) {
      const info = this.info.get(item.id)!;
      const key = `${info.changeId}/${info.stageId}`;
      const group = groups.get(key) ?? { changeId: info.changeId, stageId: info.stageId, items: [] };
      group.items.push(item);
      groups.set(key, group);
    }
    return [...groups.values()];
  }

  private report(testRun: vscode.TestRun, item: vscode.TestItem, result: CriterionResult): void {
    switch (result.outcome) {
      case 'passed':
        testRun.passed(item, result.durationMs);
        return;
      case 'skipped':
        testRun.skipped(item);
        return;
      case 'failed':
        testRun.failed(item, this.messages(item, result), result.durationMs);
        return;
      case 'error':
        testRun.errored(item, this.messages(item, result), result.durationMs);
        return;
    }
  }

  /** One message per failing test case (a diff when the report has expected/actual), then the criterion's own. */
  private messages(item: vscode.TestItem, result: CriterionResult): vscode.TestMessage[] {
    const messages: vscode.TestMessage[] = [];
    for (const { names, testCase, problem } of failingCases(result.tests?.cases ?? []).slice(0, MAX_CASE_MESSAGES)) {
      const text = `${names.join(' › ')}: ${problem?.message ?? problem?.type ?? testCase.status}`;
      const message =
        problem?.expected !== undefined && problem.actual !== undefined ? vscode.TestMessage.diff(text, problem.expected, problem.actual) : new vscode.TestMessage(text);
      const location = this.locationOf(testCase, problem);
      if (location) message.location = location;
      messages.push(message);
    }
    const summary = new vscode.TestMessage(result.failureFeedback ?? result.message);
    if (item.uri && item.range) summary.location = new vscode.Location(item.uri, item.range);
    messages.push(summary);
    return messages;
  }

  /** Where a failing case is: the report's file/line, else the first stack frame inside the workspace. */
  private locationOf(testCase: TestCase, problem: TestProblem | undefined): vscode.Location | undefined {
    const root = this.cockpit.factory.root;
    const inside = (file: string) => {
      const absolute = path.resolve(root, file.startsWith('file://') ? vscode.Uri.parse(file).fsPath : file);
      const relative = path.relative(root, absolute);
      return relative && !relative.startsWith('..') && !path.isAbsolute(relative) && !relative.split(path.sep).includes('node_modules') ? absolute : undefined;
    };
    if (testCase.location) {
      const file = inside(testCase.location.file);
      if (file) {
        const line = Math.max(0, (testCase.location.line ?? 1) - 1);
        return new vscode.Location(vscode.Uri.file(file), new vscode.Position(line, 0));
      }
    }
    for (const match of (problem?.details ?? '').matchAll(/((?:file:\/\/)?\/[^\s()'"]+?):(\d+):(\d+)/g)) {
      const file = inside(match[1]!);
      if (file) return new vscode.Location(vscode.Uri.file(file), new vscode.Position(Number(match[2]) - 1, Number(match[3]) - 1));
    }
    return undefined;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

/** Failing cases, deepest failing subtest first, with the names that lead to them. */
function failingCases(cases: TestCase[]): { names: string[]; testCase: TestCase; problem?: TestProblem }[] {
  const out: { names: string[]; testCase: TestCase; problem?: TestProblem }[] = [];
  const visit = (list: TestCase[], trail: string[]) => {
    for (const testCase of list) {
      const names = [...trail, ...testCase.suite, testCase.name];
      const failingChildren = (testCase.children ?? []).some((c) => c.status === 'failed' || c.status === 'error');
      if (failingChildren) visit(testCase.children ?? [], names);
      else if (testCase.status === 'failed' || testCase.status === 'error') out.push({ names, testCase, ...(testCase.problems[0] ? { problem: testCase.problems[0] } : {}) });
    }
  };
  visit(cases, []);
  return out;
}

function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
