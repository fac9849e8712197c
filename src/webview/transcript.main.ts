// The transcript panel's browser side. It applies the host's ops to its own copy of
// the entries (the same TranscriptEntries code the host uses) and renders them. Agent
// output is untrusted: every string goes through Lit text bindings (textContent), never
// HTML; long text is shown with `white-space: pre-wrap`. Messages in both directions
// are checked against the shared zod schemas.
//
// Rendered in the light DOM so the codicon stylesheet and media/transcript.css apply.
// Violations are counted on the element (cspWatch); zod must not probe `new Function` (zodJitless).
import './cspWatch';
import './zodJitless';
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { TranscriptEntries } from '../core/transcriptEntries';
import { parseTranscriptHostMessage, parseTranscriptWebviewMessage, type TranscriptEntry, type TranscriptHeader } from '../core/transcriptProtocol';
import { checkedSender, vscode } from './host';


/** What survives the panel being hidden and shown again (the entries come back in the host's snapshot). */
interface SavedState {
  open: string[];
  promptOpen: boolean;
  stick: boolean;
  scrollY: number;
}

function loadSaved(): SavedState {
  const raw = vscode.getState() as Partial<SavedState> | undefined;
  return {
    open: Array.isArray(raw?.open) ? raw.open.filter((id): id is string => typeof id === 'string').slice(0, 10_000) : [],
    promptOpen: raw?.promptOpen === true,
    stick: raw?.stick !== false,
    scrollY: typeof raw?.scrollY === 'number' && Number.isFinite(raw.scrollY) ? raw.scrollY : 0,
  };
}

const send = checkedSender(parseTranscriptWebviewMessage);

const numbers = new Intl.NumberFormat();

export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

function formatCost(usage: TranscriptHeader['usage']): string {
  if (usage?.costUsd === undefined) return 'cost unknown';
  const amount = `$${usage.costUsd < 0.01 ? usage.costUsd.toFixed(4) : usage.costUsd.toFixed(2)}`;
  if (usage.costSource === 'estimate') return `≈ ${amount} (estimate)`;
  if (usage.costSource === 'agent') return `${amount} (reported by the agent)`;
  return amount;
}

const OUTCOME_LABELS: Record<NonNullable<TranscriptHeader['outcome']>, string> = {
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timedOut: 'Timed out',
  budgetExceeded: 'Over budget',
  interrupted: 'Interrupted',
};

const TOOL_ICONS: Record<string, string> = {
  read: 'file',
  edit: 'edit',
  delete: 'trash',
  move: 'arrow-right',
  search: 'search',
  execute: 'terminal',
  fetch: 'globe',
  think: 'checklist',
  other: 'tools',
};

const icon = (name: string, extra = '') => html`<span class="codicon codicon-${name} ${extra}" aria-hidden="true"></span>`;

export class TranscriptPanel extends LitElement {
  static override properties = {
    header: { state: true },
    revision: { state: true },
    stick: { state: true },
    now: { state: true },
  };

  declare header: TranscriptHeader | undefined;
  /** Bumped on every applied update: entries are mutated in place in `model`. */
  declare revision: number;
  declare stick: boolean;
  declare now: number;
  private readonly model = new TranscriptEntries();
  /** The attempt of the last snapshot: updates for any other are not applied. */
  private attempt: string | undefined;
  private saved = loadSaved();
  private readonly open = new Set<string>(this.saved.open);
  /** When the header arrived, to count elapsed time on from `elapsedMs`. */
  private headerAt = performance.now();
  private ticker: number | undefined;
  private restoredScroll = false;
  private scrolling = false;

  constructor() {
    super();
    this.header = undefined;
    this.revision = 0;
    this.stick = this.saved.stick;
    this.now = performance.now();
  }

  protected override createRenderRoot(): HTMLElement {
    return this;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('message', this.onMessage);
    window.addEventListener('scroll', this.onScroll, { passive: true });
    // The handshake: the host sends nothing until it hears this.
    send({ type: 'ready' });
  }

  override disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
    window.removeEventListener('scroll', this.onScroll);
    window.clearInterval(this.ticker);
    super.disconnectedCallback();
  }

  private readonly onMessage = (event: MessageEvent): void => {
    const parsed = parseTranscriptHostMessage(event.data);
    if (!parsed.ok) {
      console.warn(parsed.error);
      return;
    }
    const message = parsed.message;
    if (message.type === 'snapshot') {
      this.attempt = message.attempt;
      this.model.entries = message.entries;
      this.model.dropped = message.dropped;
      this.setHeader(message.header);
    } else {
      // Ops for another attempt than the one shown (its snapshot was lost while the
      // panel reloaded) would land on the wrong entries: ask for the whole state again.
      if (message.attempt !== this.attempt) {
        send({ type: 'ready' });
        return;
      }
      for (const op of message.ops) this.model.apply(op);
      if (message.header) this.setHeader(message.header);
    }
    this.revision++;
  };

  private setHeader(header: TranscriptHeader): void {
    this.header = header;
    this.headerAt = performance.now();
    this.now = this.headerAt;
    if (header.status === 'running' && header.elapsedMs !== undefined) {
      this.ticker ??= window.setInterval(() => {
        this.now = performance.now();
      }, 1000);
    } else {
      window.clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private readonly onScroll = (): void => {
    if (this.scrolling) return;
    const atBottom = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 24;
    if (atBottom !== this.stick) this.stick = atBottom;
    this.save({ stick: atBottom, scrollY: window.scrollY });
  };

  private save(patch: Partial<SavedState>): void {
    this.saved = { ...this.saved, ...patch };
    vscode.setState(this.saved);
  }

  protected override updated(): void {
    if (!this.header) return;
    if (!this.restoredScroll) {
      this.restoredScroll = true;
      if (!this.stick) {
        window.scrollTo(0, this.saved.scrollY);
        return;
      }
    }
    if (this.stick) this.scrollToEnd();
  }

  private scrollToEnd(): void {
    // Our own scroll must not read as the user's: the flag holds until the scroll event has fired.
    this.scrolling = true;
    window.scrollTo(0, document.documentElement.scrollHeight);
    requestAnimationFrame(() => {
      this.scrolling = false;
    });
  }

  private readonly jumpToEnd = (): void => {
    this.stick = true;
    this.save({ stick: true });
    this.scrollToEnd();
  };

  private readonly onToggle = (event: Event): void => {
    const details = event.target as HTMLDetailsElement;
    const id = details.dataset.id;
    if (!id) return;
    if (id === 'prompt') {
      this.save({ promptOpen: details.open });
      return;
    }
    if (details.open) this.open.add(id);
    else this.open.delete(id);
    this.save({ open: [...this.open] });
  };

  /** `toggle` does not bubble: listen in the capture phase on the list. */
  private readonly toggleListener = { handleEvent: (event: Event) => this.onToggle(event), capture: true };

  override render(): TemplateResult {
    const header = this.header;
    if (!header) return html`<p class="muted" role="status">Loading the transcript…</p>`;
    const entries = this.model.entries;
    const dropped = this.model.dropped;
    return html`
      ${this.renderHeader(header)}
      <main class="entries" role="log" aria-label="Agent transcript" @toggle=${this.toggleListener} @click=${this.onClick}>
        ${dropped.events > 0 || dropped.entries > 0
          ? html`<p class="dropped muted">${icon('fold-up')} … ${numbers.format(dropped.events)} earlier events not shown here (the stored transcript keeps them all).</p>`
          : nothing}
        ${entries.length === 0 ? html`<p class="muted empty">${header.status === 'running' ? 'Waiting for the agent…' : 'The transcript is empty.'}</p>` : nothing}
        ${repeat(entries, (e) => e.id, (e) => this.renderEntry(e))}
      </main>
      ${!this.stick && entries.length > 0
        ? html`<button class="jump" @click=${this.jumpToEnd} title="Scroll to the latest output and follow it">${icon('arrow-down')} Latest</button>`
        : nothing}
    `;
  }

  private renderHeader(h: TranscriptHeader): TemplateResult {
    const running = h.status === 'running';
    const elapsed = running && h.elapsedMs !== undefined ? h.elapsedMs + (this.now - this.headerAt) : h.durationMs;
    const usage = h.usage;
    const status = running
      ? html`<span class="status running">${icon('loading', 'codicon-modifier-spin')} Running</span>`
      : html`<span class="status ${h.outcome ?? 'unknown'}">${icon(h.outcome === 'succeeded' ? 'pass' : h.outcome ? 'error' : 'circle-outline')} ${h.outcome ? OUTCOME_LABELS[h.outcome] : 'Not finished'}</span>`;
    return html`
      <header class="header">
        <h1>
          <span class="title">${h.stageTitle}${h.attemptNumber ? ` #${h.attemptNumber}` : ''}</span>
          <span class="muted change">${h.changeTitle}</span>
        </h1>
        <div class="facts" role="status" aria-live="off">
          ${status}
          <span title="backend">${icon('hubot')} ${h.backend}${h.model ? ` (${h.model})` : ''}</span>
          ${elapsed !== undefined ? html`<span class="elapsed" title=${running ? 'elapsed' : 'duration'}>${icon('watch')} ${formatDuration(elapsed)}</span>` : nothing}
          <span class="usage" title="tokens in / out (cached)">${icon('pulse')}
            ${usage ? `${numbers.format(usage.inputTokens)} in / ${numbers.format(usage.outputTokens)} out${usage.cachedTokens ? ` (${numbers.format(usage.cachedTokens)} cached)` : ''}` : 'no token usage reported'}</span>
          <span class="cost ${usage?.costUsd === undefined ? 'unknown' : ''}">${icon('credit-card')} ${formatCost(usage)}</span>
          ${h.turns ? html`<span>${h.turns} turn${h.turns === 1 ? '' : 's'}</span>` : nothing}
          ${h.source === 'recorded' ? html`<span class="muted">${icon('history')} recorded</span>` : nothing}
        </div>
        ${h.reason ? html`<p class="reason ${h.outcome === 'succeeded' ? '' : 'bad'}">${h.reason}</p>` : nothing}
        ${h.notice ? html`<p class="notice">${icon('info')} ${h.notice}</p>` : nothing}
        ${h.prompt !== undefined
          ? html`<details class="prompt" data-id="prompt" .open=${this.saved.promptOpen} @toggle=${this.onToggle}>
              <summary>${icon('comment')} Prompt <span class="muted">(${numbers.format(h.prompt.length)} characters)</span></summary>
              <div class="pre">${h.prompt}</div>
            </details>`
          : nothing}
      </header>
    `;
  }

  private renderEntry(e: TranscriptEntry): TemplateResult {
    const isOpen = this.open.has(e.id);
    switch (e.kind) {
      case 'text':
        return html`<section class="entry text" aria-label="Agent message">
          ${e.cut ? html`<p class="muted cut">… ${numbers.format(e.cut)} earlier characters not shown</p>` : nothing}
          <div class="pre">${e.text}</div>
        </section>`;
      case 'reasoning':
        return html`<details class="entry reasoning" data-id=${e.id} .open=${isOpen}>
          <summary>${icon('lightbulb')} Reasoning <span class="muted">(${numbers.format(e.text.length + (e.cut ?? 0))} characters)</span></summary>
          <div class="pre">${e.text}</div>
        </details>`;
      case 'tool': {
        const toolIcon = TOOL_ICONS[e.toolKind ?? 'other'] ?? 'tools';
        const target = e.paths?.[0] ?? e.command?.command;
        return html`<details class="entry tool ${e.status}" data-id=${e.id} .open=${isOpen}>
          <summary>
            ${icon(toolIcon)} <span class="tool-name">${e.name}</span>
            ${target ? html`<code class="target">${target}</code>` : nothing}
            ${this.statusBadge(e.status)}
          </summary>
          <div class="detail">
            ${e.input !== undefined ? html`<div class="label">Input</div><pre class="pre">${e.input}</pre>` : nothing}
            ${e.command ? this.renderCommand(e.command) : nothing}
            ${e.output !== undefined && e.output !== e.command?.output ? html`<div class="label">Output</div><pre class="pre">${e.output || '(empty)'}</pre>` : nothing}
          </div>
        </details>`;
      }
      case 'command':
        return html`<details class="entry command ${e.exitCode === 0 ? 'succeeded' : e.exitCode == null ? '' : 'failed'}" data-id=${e.id} .open=${isOpen}>
          <summary>${icon('terminal')} <code class="target">${e.command}</code> ${this.exitBadge(e.exitCode)}</summary>
          <div class="detail">${this.renderCommand(e)}</div>
        </details>`;
      case 'file': {
        const label = e.change === 'add' ? 'created' : e.change === 'delete' ? 'deleted' : e.change === 'update' ? 'edited' : 'changed';
        return html`<div class="entry file">
          ${icon(e.change === 'add' ? 'diff-added' : e.change === 'delete' ? 'diff-removed' : 'diff-modified')}
          ${e.relativePath
            ? html`<button class="link" data-diff=${e.path} title="Open the diff: the file at the start of the attempt ↔ the working file">${e.relativePath}</button>`
            : html`<code>${e.path}</code> <span class="muted">(outside the workspace)</span>`}
          <span class="muted">${label}</span>
        </div>`;
      }
      case 'error':
        return html`<div class="entry error">${icon('error')} <strong>${e.fatal ? 'Error (ended the attempt)' : 'Error'}:</strong> <span class="pre">${e.message}</span></div>`;
      case 'diagnostic':
        return html`<div class="entry diagnostic ${e.level}">
          ${icon(e.level === 'warn' ? 'warning' : 'info')} <span>${e.message}</span>
          ${e.line !== undefined ? html`<details data-id=${e.id} .open=${isOpen}><summary class="muted">line</summary><pre class="pre">${e.line}</pre></details>` : nothing}
        </div>`;
      case 'plan':
        return html`<section class="entry plan" aria-label="Plan">
          <div class="label">${icon('checklist')} Plan</div>
          <ul>
            ${e.entries.map((p) => html`<li class=${p.status}>${icon(p.status === 'completed' ? 'pass' : p.status === 'inProgress' ? 'circle-filled' : 'circle-large-outline')} ${p.text}</li>`)}
          </ul>
        </section>`;
      case 'permission':
        return html`<div class="entry permission">${icon(e.decision === 'allowed' ? 'unlock' : 'lock')} Permission ${e.decision}: <span>${e.title}</span></div>`;
      case 'result':
        return html`<section class="entry result ${e.success ? 'succeeded' : 'failed'}">
          <div>${icon(e.success ? 'pass' : 'error')} <strong>${e.success ? 'The agent finished' : 'The agent reported a failure'}</strong>
            <span class="muted">${[e.turns !== undefined ? `${e.turns} turns` : '', e.durationMs !== undefined ? formatDuration(e.durationMs) : ''].filter(Boolean).join(' · ')}</span>
          </div>
          ${e.text ? html`<details data-id=${e.id} .open=${isOpen}><summary>Final answer</summary><div class="pre">${e.text}</div></details>` : nothing}
        </section>`;
      case 'awaitingHuman':
        return html`<div class="entry awaiting">${icon('person')} Waiting for a person${e.instructions ? html`: <span class="pre">${e.instructions}</span>` : nothing}</div>`;
      case 'log': {
        const lines = e.text.split('\n').length - 1;
        return html`<details class="entry log ${e.stream}" data-id=${e.id} .open=${isOpen}>
          <summary class="muted">${icon(e.stream === 'meta' ? 'gear' : 'output')} ${e.stream === 'meta' ? 'Runner' : 'stderr'} <span>(${lines} line${lines === 1 ? '' : 's'})</span>
            ${e.stream === 'meta' && lines === 1 ? html`<code class="target">${e.text.trim()}</code>` : nothing}</summary>
          ${e.cut ? html`<p class="muted cut">… ${numbers.format(e.cut)} earlier characters not shown</p>` : nothing}
          <pre class="pre">${e.text}</pre>
        </details>`;
      }
    }
  }

  private renderCommand(c: { command: string; argv?: string[]; exitCode?: number | null; output?: string }): TemplateResult {
    return html`<div class="label">Command ${this.exitBadge(c.exitCode)}</div>
      <pre class="pre">${c.argv?.length ? c.argv.join(' ') : c.command}</pre>
      ${c.output !== undefined ? html`<div class="label">Output</div><pre class="pre">${c.output || '(empty)'}</pre>` : nothing}`;
  }

  private statusBadge(status: 'running' | 'succeeded' | 'failed'): TemplateResult {
    if (status === 'running') return html`<span class="badge running">${icon('loading', 'codicon-modifier-spin')} running</span>`;
    return html`<span class="badge ${status}">${icon(status === 'succeeded' ? 'check' : 'error')} ${status === 'succeeded' ? 'done' : 'failed'}</span>`;
  }

  private exitBadge(code: number | null | undefined): TemplateResult | typeof nothing {
    if (code === undefined) return nothing;
    if (code === null) return html`<span class="badge failed">no exit code</span>`;
    return html`<span class="badge ${code === 0 ? 'succeeded' : 'failed'}">exit ${code}</span>`;
  }

  /** File links are buttons with the path in a data attribute: one delegated handler, keyboard included. */
  private readonly onClick = (event: Event): void => {
    const button = (event.target as HTMLElement).closest<HTMLElement>('button[data-diff]');
    const path = button?.dataset.diff;
    if (path) send({ type: 'openDiff', path });
  };
}

customElements.define('factory-transcript', TranscriptPanel);
