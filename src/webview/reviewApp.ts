// The review panel's browser side: the change's steps and timeline (virtualized: only
// the rows in view are in the DOM), one step at a time with its context verdict,
// prompt, transcript (the live transcript view's own renderer), files, diff hunks and
// verification evidence, each loaded per step on request. Requests carry an id; a
// reply is applied only to the request it answers, of the kind asked for. Every
// string from the record is a Lit text binding, never HTML. Keyboard: j / k and the
// arrow keys move between steps; each step's heading takes the focus and is announced.
// Loaded by the page's entry (review.main.ts) once it said `ready`; zod must not probe
// `new Function` (zodJitless), so that comes first.
import './zodJitless';
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import { styleProps } from './styleProps';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import { parseReviewHostMessage, parseReviewWebviewMessage, type EvidenceContent, type Overview, type ResultFor, type ReviewRequest, type StepDetail, type TimelineRow } from '../core/reviewProtocol';
import type { TranscriptEntry, TranscriptHeader } from '../core/transcriptProtocol';
import type { TranscriptEntries } from '../core/transcriptEntries';
import { checkedSender } from './host';
import { TranscriptPanel, formatDuration } from './transcript.main';

// Where the first step's time goes (bench/review-host.mjs reads these marks).
performance.mark('review:app');
const send = checkedSender(parseReviewWebviewMessage);

/**
 * The transcript view's element, fed by the review instead of its own host: the same
 * renderer as the live view (folded tool calls, commands, file edits), without its
 * handshake, its message listener or its follow-the-end scrolling.
 */
class ReviewTranscript extends TranscriptPanel {
  show(header: TranscriptHeader, entries: TranscriptEntry[], dropped: { entries: number; events: number }): void {
    const inner = this as unknown as { model: TranscriptEntries; setHeader(h: TranscriptHeader): void };
    inner.model.entries = entries;
    inner.model.dropped = dropped;
    inner.setHeader(header);
    this.revision++;
  }

  override connectedCallback(): void {
    // LitElement's own: not the transcript panel's handshake and listeners.
    LitElement.prototype.connectedCallback.call(this);
  }

  protected override updated(): void {
    // The review page scrolls as a whole; a transcript here never pulls it to its end.
  }
}
customElements.define('factory-review-transcript', ReviewTranscript);

const icon = (name: string, extra = '') => html`<span class="codicon codicon-${name} ${extra}" aria-hidden="true"></span>`;
const money = (usd: number | undefined) => (usd === undefined ? 'cost unknown' : `$${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(2)}`);
const shortHash = (hash: string | undefined) => (hash ? hash.slice(0, 10) : '—');
const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

const TIMELINE_ROW = 24;
const TIMELINE_HEIGHT = 260;
const STEP_ROW = 28;

type Pending = { kind: ReviewRequest['kind']; resolve: (value: unknown) => void; reject: (error: Error) => void };

export class ReviewApp extends LitElement {
  static override properties = {
    overview: { state: true },
    index: { state: true },
    revision: { state: true },
    notice: { state: true },
    timelineTop: { state: true },
    stepsTop: { state: true },
    timeline: { state: true },
  };

  declare overview: Overview | undefined;
  declare index: number;
  declare revision: number;
  declare notice: { level: string; text: string } | undefined;
  declare timelineTop: number;
  declare stepsTop: number;
  /** Asked for once the first step is drawn (and again after each new overview); the previous rows stay meanwhile. */
  declare timeline: TimelineRow[] | undefined;
  private timelineWanted = false;

  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly steps = new Map<string, StepDetail>();
  private readonly transcripts = new Map<string, ResultFor<'transcript'> | { error: string }>();
  private readonly diffs = new Map<string, ResultFor<'diffFiles'> | { error: string }>();
  private readonly evidence = new Map<string, EvidenceContent>();
  private readonly openText = new Set<string>();
  private commentDraft = '';
  private sendBackNote = '';
  private sendBackTo: string | undefined;
  private focusHeading = false;

  constructor() {
    super();
    this.overview = undefined;
    this.index = 0;
    this.revision = 0;
    this.notice = undefined;
    this.timelineTop = 0;
    this.stepsTop = 0;
    this.timeline = undefined;
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('message', this.onMessage);
    window.addEventListener('keydown', this.onKey);
  }

  override disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
    window.removeEventListener('keydown', this.onKey);
    super.disconnectedCallback();
  }

  /** A request to the host; resolves with the reply of the same id, of the kind asked for. */
  private request<K extends ReviewRequest['kind']>(request: Extract<ReviewRequest, { kind: K }>): Promise<ResultFor<K>> {
    const id = this.nextId++;
    return new Promise<ResultFor<K>>((resolve, reject) => {
      this.pending.set(id, { kind: request.kind, resolve: resolve as (v: unknown) => void, reject });
      send({ type: 'request', id, request });
    });
  }

  /** A message that came before this element listened (while the page's entry loaded it). */
  receive(event: MessageEvent): void {
    this.onMessage(event);
  }

  private readonly onMessage = (event: MessageEvent): void => {
    const parsed = parseReviewHostMessage(event.data);
    if (!parsed.ok) {
      console.warn(parsed.error);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'overview': {
        const previous = this.overview;
        const first = !previous;
        if (first) performance.mark('review:overview');
        this.overview = message.overview;
        // A new overview (after a decision or an edit): the step details are read again.
        this.steps.clear();
        this.diffs.clear();
        if (message.step) this.steps.set(message.step.id, message.step);
        this.timelineWanted = true;
        // Only the first overview places the panel (on the step the command named). A later
        // one is the record read again, possibly sent before the host heard where the person
        // went since: the panel stays on the step shown and keeps the focus where it is.
        const shown = first ? message.stepId : (previous?.steps[this.index]?.id ?? message.stepId);
        const at = shown ? message.overview.steps.findIndex((s) => s.id === shown) : -1;
        this.go(at >= 0 ? at : first ? 0 : Math.min(this.index, message.overview.steps.length - 1), false);
        break;
      }
      case 'reply': {
        const pending = this.pending.get(message.id);
        if (!pending) return;
        this.pending.delete(message.id);
        if (message.error !== undefined || !message.result) pending.reject(new Error(message.error ?? 'no result'));
        else if (message.result.kind !== pending.kind) pending.reject(new Error(`a ${message.result.kind} reply to a ${pending.kind} request`));
        else pending.resolve(message.result);
        break;
      }
      case 'step':
        // The same step after its evidence was re-hashed (or its failures read).
        this.steps.set(message.step.id, message.step);
        this.revision++;
        break;
      case 'move':
        if (message.stepId) {
          const at = this.overview?.steps.findIndex((s) => s.id === message.stepId) ?? -1;
          if (at >= 0) this.go(at, true);
        } else if (message.delta) this.go(this.index + message.delta, true);
        break;
      case 'notice':
        this.notice = { level: message.level, text: message.text };
        break;
    }
  };

  private readonly onKey = (event: KeyboardEvent): void => {
    const target = event.target as HTMLElement | null;
    if (target?.closest('input, textarea, vscode-textarea, select, [contenteditable]')) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === 'j' || event.key === 'ArrowDown' || event.key === 'ArrowRight') {
      event.preventDefault();
      this.go(this.index + 1, true);
    } else if (event.key === 'k' || event.key === 'ArrowUp' || event.key === 'ArrowLeft') {
      event.preventDefault();
      this.go(this.index - 1, true);
    }
  };

  /** Shows step `index`: its detail (and transcript, diff) is asked for now, once. */
  private go(index: number, focus: boolean): void {
    const steps = this.overview?.steps ?? [];
    if (steps.length === 0) return;
    this.index = Math.max(0, Math.min(steps.length - 1, index));
    const summary = steps[this.index]!;
    this.focusHeading = focus;
    send({ type: 'selected', stepId: summary.id });
    // Keep the current row of the step list in view.
    const list = this.querySelector<HTMLElement>('.rv-steps');
    if (list) {
      const top = this.index * STEP_ROW;
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - STEP_ROW) list.scrollTop = Math.max(0, top - list.clientHeight / 2);
      this.stepsTop = list.scrollTop;
    }
    if (!this.steps.has(summary.id)) {
      void this.request({ kind: 'step', stepId: summary.id }).then(
        (r) => {
          this.steps.set(summary.id, r.step);
          this.loadFor(r.step);
          this.revision++;
        },
        (e: Error) => (this.notice = { level: 'error', text: e.message }),
      );
    } else this.loadFor(this.steps.get(summary.id)!);
    this.revision++;
  }

  private loadFor(step: StepDetail): void {
    if (step.kind !== 'attempt') return;
    if (!this.transcripts.has(step.attemptId)) this.fetchInto(this.transcripts, step.attemptId, { kind: 'transcript', attemptId: step.attemptId });
    if (!this.diffs.has(step.attemptId) && step.changedFiles.length > 0 && this.overview?.trusted) this.fetchInto(this.diffs, step.attemptId, { kind: 'diffFiles', attemptId: step.attemptId });
    for (const run of step.verifications) for (const e of run.evidence) if (/^image\//.test(e.ref.mediaType ?? '')) this.loadEvidence(e.ref.sha256);
  }

  /** Asks the host once for what `key` needs; the map holds it (or why not) and the view redraws. */
  private fetchInto<K extends ReviewRequest['kind']>(map: Map<string, ResultFor<K> | { error: string }>, key: string, request: Extract<ReviewRequest, { kind: K }>): void {
    map.set(key, { error: '' });
    void this.request(request).then(
      (r) => {
        map.set(key, r);
        this.revision++;
      },
      (e: Error) => {
        map.set(key, { error: e.message });
        this.revision++;
      },
    );
  }

  private loadTimeline(): void {
    this.timelineWanted = false;
    void this.request({ kind: 'timeline' }).then(
      (r) => (this.timeline = r.rows),
      (e: Error) => (this.notice = { level: 'error', text: `The timeline could not be read: ${e.message}` }),
    );
  }

  private loadEvidence(sha256: string): void {
    if (this.evidence.has(sha256)) return;
    this.evidence.set(sha256, { sha256, name: '', integrity: 'unchecked' });
    void this.request({ kind: 'evidence', sha256 }).then(
      (r) => {
        this.evidence.set(sha256, r.evidence);
        this.revision++;
      },
      (e: Error) => {
        this.evidence.set(sha256, { sha256, name: '', integrity: 'unchecked', error: e.message });
        this.revision++;
      },
    );
  }

  protected override updated(): void {
    const summary = this.overview?.steps[this.index];
    if (summary && this.steps.has(summary.id)) {
      if (performance.getEntriesByName('review:first-step').length === 0) performance.mark('review:first-step');
      // The step is drawn: now the timeline (hundreds of rows to check and lay out) may come.
      if (this.timelineWanted) this.loadTimeline();
    }
    if (this.focusHeading && summary && this.steps.has(summary.id)) {
      this.focusHeading = false;
      this.querySelector<HTMLElement>('#rv-step-heading')?.focus();
    }
    const transcript = this.querySelector<ReviewTranscript>('factory-review-transcript');
    const step = summary ? this.steps.get(summary.id) : undefined;
    if (transcript && step?.kind === 'attempt') {
      const t = this.transcripts.get(step.attemptId);
      if (t && 'entries' in t && transcript.dataset.attempt !== step.attemptId) {
        transcript.dataset.attempt = step.attemptId;
        const { prompt: _prompt, ...header } = t.header;
        transcript.show(header, t.entries, t.dropped);
      }
    }
  }

  override render(): TemplateResult {
    const o = this.overview;
    if (!o) return html`<p class="muted" role="status">Loading the review…</p>`;
    const summary = o.steps[this.index];
    const step = summary ? this.steps.get(summary.id) : undefined;
    return html`
      ${this.renderHeader(o)}
      ${this.notice ? html`<p class="rv-notice ${this.notice.level}" role="alert">${this.notice.text} <button class="link" @click=${() => (this.notice = undefined)} aria-label="Dismiss">${icon('close')}</button></p>` : nothing}
      <p class="rv-live" aria-live="polite" role="status">${summary ? `Step ${this.index + 1} of ${o.steps.length}: ${summary.heading}` : ''}</p>
      <div class="rv-body">
        ${this.renderStepList(o)}
        <main class="rv-step" data-step=${summary?.id ?? ''}>
          <div class="rv-nav">
            <vscode-button secondary icon="arrow-up" ?disabled=${this.index === 0} @click=${() => this.go(this.index - 1, true)} title="Previous step (k)">Previous</vscode-button>
            <span class="muted">Step ${this.index + 1} of ${o.steps.length} · j / k to move</span>
            <vscode-button secondary icon="arrow-down" ?disabled=${this.index >= o.steps.length - 1} @click=${() => this.go(this.index + 1, true)} title="Next step (j)">Next</vscode-button>
          </div>
          <h2 id="rv-step-heading" tabindex="-1">${summary?.heading ?? ''}</h2>
          ${step ? (step.kind === 'stage' ? this.renderStage(step, o) : this.renderAttempt(step, o)) : html`<p class="muted" role="status">Loading the step…</p>`}
        </main>
      </div>
      ${this.renderTimeline(o)}
    `;
  }

  private renderHeader(o: Overview): TemplateResult {
    const t = o.totals;
    return html`<header class="rv-head">
      <h1>${o.title}${o.ticket ? html` <span class="muted">(${o.ticket})</span>` : nothing}</h1>
      <p class="muted rv-facts">
        <span>${icon('database')} ${o.source}</span>${o.branch ? html`<span>${icon('git-branch')} ${o.branch}</span>` : nothing}
        <span>${t.attempts} attempts</span><span>${money(t.costUsd)}</span><span>${formatDuration(t.durationMs)} of agent time</span>
        <span>${t.verifications} verification runs (${t.failedVerifications} failed)</span>
        ${o.newerEvents ? html`<span>${o.newerEvents} events from a newer version (kept, shown in the timeline)</span>` : nothing}
      </p>
      <div class="rv-stages" aria-label="Stages">${o.stages.map((s) => html`<span class="rv-stage-chip ${s.status}">${s.title}: ${s.status}</span>`)}</div>
      ${!o.trusted ? html`<p class="rv-notice warning">${icon('shield')} This workspace is not trusted: the record is shown, but no git runs, so diffs and hunk actions need trust, and decisions are recorded once the folder is trusted.</p>` : nothing}
      ${o.readOnly ? html`<p class="rv-notice info">${icon('info')} Read from ${o.source} through git objects: decisions and comments are made in a checkout of that branch.</p>` : nothing}
      <div class="rv-actions">
        <vscode-button icon="check-all" data-action="approve-change" ?disabled=${o.readOnly || !o.trusted} @click=${() => send({ type: 'decide', action: 'approveChange' })}>Approve Change</vscode-button>
        <vscode-button secondary icon="diff-multiple" data-action="diff-change" ?disabled=${!o.trusted} @click=${() => send({ type: 'openDiffSet', scope: 'change' })}>Review Diff of Change</vscode-button>
        <vscode-button secondary icon="markdown" data-action="export-md" @click=${() => send({ type: 'export', format: 'md' })}>Export Markdown</vscode-button>
        <vscode-button secondary icon="file-code" data-action="export-html" @click=${() => send({ type: 'export', format: 'html' })}>Export HTML</vscode-button>
      </div>
    </header>`;
  }

  /** The step list, virtualized: only rows in view are rendered. */
  private renderStepList(o: Overview): TemplateResult {
    const height = Math.max(200, window.innerHeight - 220);
    const first = Math.max(0, Math.floor(this.stepsTop / STEP_ROW) - 5);
    const last = Math.min(o.steps.length, first + Math.ceil(height / STEP_ROW) + 10);
    return html`<nav class="rv-steps" aria-label="Steps" ${styleProps({ height: `${height}px` })} @scroll=${(e: Event) => (this.stepsTop = (e.target as HTMLElement).scrollTop)}>
      <ol ${styleProps({ height: `${o.steps.length * STEP_ROW}px` })} role="list">
        ${o.steps.slice(first, last).map((s, i) => {
          const at = first + i;
          return html`<li ${styleProps({ top: `${at * STEP_ROW}px` })} class="${s.kind} ${s.muted ? 'muted' : ''} ${at === this.index ? 'current' : ''}">
            <button class="rv-step-link" data-step=${s.id} aria-current=${at === this.index ? 'step' : 'false'} @click=${() => this.go(at, true)}>
              ${icon(s.kind === 'stage' ? 'layers' : stateIcon(s.state))} <span>${s.heading}</span>
              ${s.recreated ? html`<span class="rv-warn" title="context re-created">${icon('warning')}</span>` : nothing}
            </button>
          </li>`;
        })}
      </ol>
    </nav>`;
  }

  /** The timeline, virtualized: a fixed row height, only rows in view rendered. */
  private renderTimeline(o: Overview): TemplateResult {
    const rows = this.timeline ?? [];
    const first = Math.max(0, Math.floor(this.timelineTop / TIMELINE_ROW) - 5);
    const last = Math.min(rows.length, first + Math.ceil(TIMELINE_HEIGHT / TIMELINE_ROW) + 10);
    return html`<section class="rv-timeline" aria-label="Timeline">
      <h2>Timeline <span class="muted">(${o.timelineRows} events${this.timeline ? '' : ', loading…'})</span></h2>
      <div class="rv-tl-head" aria-hidden="true"><span>When</span><span>What</span><span>Who</span><span>Took</span><span>Cost</span><span>Commit / tree</span></div>
      <div class="rv-tl-scroll" ${styleProps({ height: `${TIMELINE_HEIGHT}px` })} @scroll=${(e: Event) => (this.timelineTop = (e.target as HTMLElement).scrollTop)}>
        <div role="list" class="rv-tl-rows" ${styleProps({ height: `${rows.length * TIMELINE_ROW}px` })}>
          ${rows.slice(first, last).map((t, i) => this.renderTimelineRow(t, first + i))}
        </div>
      </div>
    </section>`;
  }

  private renderTimelineRow(t: TimelineRow, at: number): TemplateResult {
    const forged = t.committedBy && t.by && t.committedBy.name !== t.by.name;
    const stepIndex = t.stepId ? (this.overview?.steps.findIndex((s) => s.id === t.stepId) ?? -1) : -1;
    return html`<div role="listitem" class="rv-tl-row ${t.kind} ${t.outcome ?? ''}" ${styleProps({ top: `${at * TIMELINE_ROW}px` })}>
      <span title=${t.at}>${when(t.at)}</span>
      <span>${stepIndex >= 0 ? html`<button class="link" @click=${() => this.go(stepIndex, true)}>${t.text}</button>` : t.text}</span>
      <span>${t.actor}${t.committedBy ? html` <span class="${forged ? 'rv-forged' : 'muted'}" title="who committed this event file">(committed by ${t.committedBy.name})</span>` : nothing}</span>
      <span>${t.durationMs !== undefined ? formatDuration(t.durationMs) : ''}</span>
      <span>${t.costUsd !== undefined ? money(t.costUsd) : ''}</span>
      <span class="mono">${t.commit ? shortHash(t.commit) : ''}${t.tree ? ` / ${shortHash(t.tree)}` : ''}</span>
    </div>`;
  }

  private renderStage(s: Extract<StepDetail, { kind: 'stage' }>, o: Overview): TemplateResult {
    const stageIndex = o.stages.findIndex((x) => x.id === s.stageId);
    const targets = o.stages.slice(0, stageIndex + 1);
    const canSendBack = !['pending', 'running', 'sentBack'].includes(s.status);
    return html`<section class="rv-section">
        <dl class="rv-facts-list">
          <dt>Status</dt><dd class="status ${s.status}">${s.status}${s.approved ? html` · approved${s.approvalStale ? html` <strong class="rv-bad">— stale: the working tree changed since the approval</strong>` : s.approvedTree ? html` at tree <code>${shortHash(s.approvedTree)}</code>` : nothing}` : nothing}</dd>
          <dt>Owner</dt><dd>${s.owner} <span class="muted">(${s.role})</span></dd>
          <dt>Handed in</dt><dd>${s.handedIn ? html`from ${s.handedIn.from} with context ${versionLabel(s.handedIn)} <span class="muted">${when(s.handedIn.at)}</span>` : html`<span class="muted">nothing handed in</span>`}</dd>
          <dt>Handed on</dt><dd>${s.handedOn ? html`${s.handedOn.to ? `to ${s.handedOn.to} ` : ''}with context ${versionLabel(s.handedOn)} at commit <code>${shortHash(s.handedOn.commit)}</code> / tree <code>${shortHash(s.handedOn.tree)}</code>${s.handedOn.summary ? html`<div class="pre">${s.handedOn.summary}</div>` : nothing}` : html`<span class="muted">not handed on</span>`}</dd>
          <dt>Signal</dt><dd class=${s.context?.recreated ? 'rv-bad' : 'rv-good'}>${s.context ? html`${s.context.sentence} <span class="muted">(${s.context.reason})</span>` : html`<span class="muted">no attempt yet</span>`}</dd>
        </dl>
      </section>
      ${this.renderVerifications(s.verifications)}
      ${s.decisions.length ? html`<section class="rv-section"><h3>Decisions</h3><ul>${s.decisions.map((d) => html`<li>${when(d.at)} — ${d.by?.name ?? 'unknown'}${d.committedBy && d.committedBy.name !== d.by?.name ? html` <span class="rv-forged">(committed by ${d.committedBy.name})</span>` : nothing}: ${d.kind === 'approved' ? 'approved' : `sent back to ${d.toStage ?? s.stageId}`}${d.note ? html` — <q>${d.note}</q>` : nothing}${d.tree ? html` <span class="muted">at tree <code>${shortHash(d.tree)}</code></span>` : nothing}</li>`)}</ul></section>` : nothing}
      <section class="rv-section rv-decide" aria-label="Decide">
        <h3>Decide</h3>
        <div class="rv-actions">
          <vscode-button icon="check" data-action="approve-stage" ?disabled=${s.status !== 'needsApproval' || o.readOnly || !o.trusted} @click=${() => send({ type: 'decide', action: 'approve', stageId: s.stageId })}>Approve ${s.stageTitle}</vscode-button>
          <vscode-button secondary icon="diff-multiple" ?disabled=${!o.trusted} @click=${() => send({ type: 'openDiffSet', scope: 'stage', id: s.stageId })}>Review Diff of Stage</vscode-button>
        </div>
        ${canSendBack && !o.readOnly && o.trusted
          ? html`<div class="rv-form">
              <label for="rv-sendback-to">Send back to</label>
              <select id="rv-sendback-to" data-test="sendback-to" @change=${(e: Event) => (this.sendBackTo = (e.target as HTMLSelectElement).value)}>
                ${targets.map((t) => html`<option value=${t.id} ?selected=${(this.sendBackTo ?? s.stageId) === t.id}>${t.title}</option>`)}
              </select>
              <vscode-textarea rows="2" label="Note for the reopened stage" placeholder="What should the reopened stage fix?" data-test="sendback-note" .value=${this.sendBackNote} @input=${(e: Event) => (this.sendBackNote = (e.target as HTMLTextAreaElement).value)}></vscode-textarea>
              <vscode-button secondary icon="reply" data-action="send-back" @click=${() => {
                send({ type: 'decide', action: 'sendBack', stageId: s.stageId, toStage: this.sendBackTo ?? s.stageId, note: this.sendBackNote });
                this.sendBackNote = '';
              }}>Send Back</vscode-button>
            </div>`
          : nothing}
      </section>
      ${this.renderComments(s.id, s.comments, o)}`;
  }

  private renderAttempt(a: Extract<StepDetail, { kind: 'attempt' }>, o: Overview): TemplateResult {
    const forged = a.committedBy && a.by && a.committedBy.name !== a.by.name;
    const t = this.transcripts.get(a.attemptId);
    return html`<section class="rv-section">
        <dl class="rv-facts-list">
          <dt>Done by</dt><dd>${icon(a.backend === 'human' ? 'person' : 'hubot')} ${a.actor}${a.by ? html` <span class="muted">started by ${a.by.name}</span>` : nothing}${a.committedBy ? html` <span class=${forged ? 'rv-forged' : 'muted'}>(event committed by ${a.committedBy.name})</span>` : nothing}</dd>
          <dt>Outcome</dt><dd class="status ${a.outcome ?? 'running'}">${a.outcome ?? 'not finished'}${a.reason ? html` — <span class="pre">${a.reason}</span>` : nothing}${a.superseded ? html` <strong>(superseded by a send-back)</strong>` : nothing}${a.rolledBack ? html` <strong>(rolled back)</strong>` : nothing}</dd>
          <dt>When</dt><dd>${when(a.startedAt)}${a.durationMs !== undefined ? ` · took ${formatDuration(a.durationMs)}` : ''} · ${money(a.costUsd)}${a.tokens ? ` · ${a.tokens} tokens` : ''}${a.trigger ? ` · ${a.trigger}` : ''}</dd>
          <dt>Trees</dt><dd>commit <code>${shortHash(a.startCommit)}</code>, tree <code>${shortHash(a.startTree)}</code> → <code>${shortHash(a.endTree)}</code></dd>
        </dl>
      </section>
      <section class="rv-section" aria-label="Context">
        <h3>Context</h3>
        <div class="rv-versions">
          <div><span class="muted">consumed</span> <strong>${a.context.consumed ? versionLabel(a.context.consumed) : 'none'}</strong></div>
          <div><span class="muted">handed forward</span> <strong>${a.context.handedForward ? versionLabel(a.context.handedForward) : 'none'}</strong></div>
        </div>
        <p class="rv-verdict ${a.context.recreated ? 'rv-bad' : 'rv-good'}" data-test="verdict">${icon(a.context.recreated ? 'warning' : 'pass')} ${a.context.sentence}</p>
        <p class="muted">${a.context.reason}</p>
        ${a.packChange
          ? html`<p>Since the previous stage (v${a.packChange.from ?? '?'} → v${a.packChange.to ?? '?'}): ${a.packChange.added.length + a.packChange.removed.length + a.packChange.changed.length === 0
              ? 'no change'
              : html`${a.packChange.added.map((x) => html`<span class="rv-added">+ ${x}</span> `)}${a.packChange.removed.map((x) => html`<span class="rv-removed">− ${x}</span> `)}${a.packChange.changed.map((x) => html`<span class="rv-changed">~ ${x}</span> `)}`}</p>`
          : nothing}
      </section>
      ${a.prompt !== undefined ? html`<section class="rv-section"><details class="rv-prompt"><summary>${icon('comment')} Prompt <span class="muted">(${a.prompt.length} characters)</span></summary><div class="pre">${a.prompt}</div></details></section>` : nothing}
      <section class="rv-section" aria-label="Transcript">
        <h3>Transcript ${a.transcript ? this.integrity(a.transcript.integrity) : nothing}</h3>
        ${!t || (!('entries' in t) && !t.error) ? html`<p class="muted" role="status">Loading the transcript…</p>` : 'entries' in t ? html`<factory-review-transcript></factory-review-transcript>` : html`<p class="rv-bad">${t.error}</p>`}
      </section>
      ${a.filesRead.length ? html`<section class="rv-section"><h3>Files read</h3><ul class="rv-files">${a.filesRead.map((f) => html`<li><code>${f}</code></li>`)}</ul></section>` : nothing}
      ${this.renderDiff(a, o)}
      ${this.renderVerifications(a.verifications)}
      ${this.renderComments(a.id, a.comments, o)}`;
  }

  private renderDiff(a: Extract<StepDetail, { kind: 'attempt' }>, o: Overview): TemplateResult {
    if (a.changedFiles.length === 0) return html`<section class="rv-section"><h3>Diff</h3><p class="muted">This attempt changed no file.</p></section>`;
    const d = this.diffs.get(a.attemptId);
    const decided = new Map(a.hunks.map((h) => [`${h.path}\n${h.hunk}`, h.decision]));
    return html`<section class="rv-section" aria-label="Diff">
      <h3>Diff ${a.diff ? this.integrity(a.diff.integrity) : nothing}</h3>
      ${!o.trusted ? html`<p class="rv-notice warning">${icon('shield')} Diffs and hunk actions need a trusted workspace: they read git objects, and git does not run here.</p>` : nothing}
      <div class="rv-actions"><vscode-button secondary icon="diff-multiple" data-action="diff-attempt" ?disabled=${!o.trusted} @click=${() => send({ type: 'openDiffSet', scope: 'attempt', id: a.attemptId })}>Review All Files as One Diff</vscode-button></div>
      <ul class="rv-files">
        ${a.changedFiles.map((f) => {
          const file = d && 'files' in d ? d.files.find((x) => x.path === f.path) : undefined;
          return html`<li>
            <button class="link" data-diff=${f.path} ?disabled=${!o.trusted} @click=${() => send({ type: 'openDiff', attemptId: a.attemptId, path: f.path })} title="Open in the diff editor: the attempt's start tree ↔ its end tree">${icon(f.status === 'added' ? 'diff-added' : f.status === 'deleted' ? 'diff-removed' : 'diff-modified')} ${f.path}</button>
            <span class="muted">${f.status}</span>
            ${file
              ? html`<div class="rv-hunks">${file.hunks.map((h) => {
                  const decision = decided.get(`${file.path}\n${h.id}`);
                  return html`<div class="rv-hunk" data-hunk=${h.id}>
                    <div class="rv-hunk-head"><code>${h.header}</code>
                      ${decision ? html`<vscode-badge>${decision}</vscode-badge>` : nothing}
                      <vscode-button secondary icon="check" data-action="keep-hunk" ?disabled=${!o.trusted || o.readOnly} @click=${() => send({ type: 'hunk', attemptId: a.attemptId, path: file.path, hunk: h.id, decision: 'accepted' })}>Keep</vscode-button>
                      <vscode-button secondary icon="discard" data-action="reject-hunk" ?disabled=${!o.trusted || o.readOnly} @click=${() => send({ type: 'hunk', attemptId: a.attemptId, path: file.path, hunk: h.id, decision: 'rejected' })}>Reject</vscode-button>
                    </div>
                    <pre class="rv-hunk-lines">${h.lines.map((l) => html`<span class=${l.startsWith('+') ? 'rv-add' : l.startsWith('-') ? 'rv-del' : ''}>${l}\n</span>`)}</pre>
                  </div>`;
                })}</div>`
              : d && 'error' in d && d.error
                ? html`<p class="rv-bad">${d.error}</p>`
                : nothing}
          </li>`;
        })}
      </ul>
    </section>`;
  }

  private renderVerifications(runs: Extract<StepDetail, { kind: 'stage' }>['verifications']): TemplateResult | typeof nothing {
    if (runs.length === 0) return nothing;
    return html`<section class="rv-section" aria-label="Verification">
      <h3>Verification</h3>
      ${runs.map(
        (v) => html`<div class="rv-run ${v.outcome} ${v.current ? 'current' : 'earlier'}" data-criterion=${v.criterionId}>
          <div>${icon(v.outcome === 'passed' ? 'pass' : v.outcome === 'skipped' ? 'circle-slash' : 'error')} <strong>${v.criterionId}</strong> ${v.outcome}${v.current ? '' : html` <span class="muted">(earlier run)</span>`}
            ${v.totals ? html`<span class="rv-totals">${v.totals.passed ?? 0} passed · ${v.totals.failed ?? 0} failed${v.totals.skipped ? ` · ${v.totals.skipped} skipped` : ''}${v.totals.total !== undefined ? ` of ${v.totals.total}` : ''}</span>` : nothing}
            <span class="muted">${when(v.at)}${v.tree ? html` · tree <code>${shortHash(v.tree)}</code>` : nothing}</span></div>
          ${v.command ? html`<div><code>${v.command}</code>${v.exitCode !== undefined ? html` <span class="muted">exit ${v.exitCode}</span>` : nothing}</div>` : nothing}
          ${v.message ? html`<div class="pre rv-failure">${v.message}</div>` : nothing}
          ${v.failures?.length ? html`<ul>${v.failures.map((f) => html`<li class="pre">${f}</li>`)}</ul>` : nothing}
          ${v.evidence.length
            ? html`<ul class="rv-evidence">${v.evidence.map((e) => {
                const content = this.evidence.get(e.ref.sha256);
                const image = /^image\//.test(e.ref.mediaType ?? '');
                const integrity = content && content.integrity !== 'unchecked' ? content.integrity : e.integrity;
                return html`<li data-sha=${e.ref.sha256}>
                  ${icon(image ? 'file-media' : 'file')} ${e.ref.name} <code class="muted">${e.ref.sha256.slice(0, 12)}</code> ${this.integrity(integrity)}
                  ${image
                    ? content?.dataUri
                      ? html`<div><button class="rv-shot" title="Open full size" @click=${() => send({ type: 'openEvidence', sha256: e.ref.sha256 })}><img alt=${`Screenshot ${e.ref.name}`} src=${content.dataUri} /></button></div>`
                      : content?.error
                        ? html`<p class="rv-bad">${content.error}</p>`
                        : nothing
                    : html`<button class="link" @click=${() => this.toggleText(e.ref.sha256)}>${this.openText.has(e.ref.sha256) ? 'Hide' : 'Show'}</button>
                        <button class="link" @click=${() => send({ type: 'openEvidence', sha256: e.ref.sha256 })}>Open</button>
                        ${this.openText.has(e.ref.sha256) ? (content?.text !== undefined ? html`<pre class="pre rv-log">${content.text}${content.truncated ? '\n…' : ''}</pre>` : content?.error ? html`<p class="rv-bad">${content.error}</p>` : html`<p class="muted">Loading…</p>`) : nothing}`}
                </li>`;
              })}</ul>`
            : nothing}
        </div>`,
      )}
    </section>`;
  }

  private toggleText(sha: string): void {
    if (this.openText.has(sha)) this.openText.delete(sha);
    else {
      this.openText.add(sha);
      this.loadEvidence(sha);
    }
    this.revision++;
  }

  private integrity(state: string): TemplateResult {
    const words: Record<string, [string, string]> = { verified: ['verified', 'verified'], altered: ['error', 'altered'], missing: ['question', 'missing'], unchecked: ['circle-outline', 'not checked yet'] };
    const [name, word] = words[state] ?? ['circle-outline', state];
    return html`<span class="rv-integrity ${state}" data-integrity=${state} title="sha256 re-hashed against the record">${icon(name)} ${word}</span>`;
  }

  private renderComments(stepId: string, comments: Extract<StepDetail, { kind: 'stage' }>['comments'], o: Overview): TemplateResult {
    const submit = () => {
      if (!this.commentDraft.trim()) return;
      send({ type: 'comment', stepId, body: this.commentDraft });
      this.commentDraft = '';
      this.revision++;
    };
    return html`<section class="rv-section" aria-label="Comments">
      <h3>Comments</h3>
      ${comments.length ? html`<ul class="rv-comments">${comments.map((c) => html`<li><strong>${c.by?.name ?? 'unknown'}</strong> <span class="muted">${when(c.at)}${c.path ? ` · ${c.path}${c.line ? `:${c.line}` : ''}` : ''}</span><div class="pre">${c.body}</div></li>`)}</ul>` : html`<p class="muted">No comments on this step.</p>`}
      ${o.readOnly || !o.trusted
        ? nothing
        : html`<div class="rv-form">
            <vscode-textarea rows="2" label="Comment on this step" placeholder="A comment for the record (Ctrl+Enter to add)" data-test="comment" .value=${this.commentDraft} @input=${(e: Event) => (this.commentDraft = (e.target as HTMLTextAreaElement).value)} @keydown=${(e: KeyboardEvent) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit();
            }}></vscode-textarea>
            <vscode-button secondary icon="comment" data-action="add-comment" @click=${submit}>Add Comment</vscode-button>
          </div>`}
    </section>`;
  }
}

function versionLabel(v: { version?: string; number?: number }): string {
  return v.number !== undefined ? `v${v.number}` : v.version ? v.version.slice(0, 12) : '?';
}

function stateIcon(state: string | undefined): string {
  switch (state) {
    case 'succeeded':
      return 'pass';
    case 'running':
      return 'loading';
    case undefined:
      return 'circle-outline';
    default:
      return 'error';
  }
}

/**
 * Defines the panel's element, which upgrades the one on the page (and starts
 * listening), then hands it the messages that came before, in order: all in one task,
 * so no message can slip between them.
 */
export function startReview(early: readonly MessageEvent[]): void {
  customElements.define('factory-review', ReviewApp);
  const app = document.querySelector<ReviewApp>('factory-review');
  for (const event of early) app?.receive(event);
}
