// The context panel's browser side: renders the pack the host sends and turns clicks,
// keys and drops into protocol messages. Every string from the record (titles,
// paths, notes, names) goes through Lit text bindings, never as HTML. Messages in
// both directions are checked against the shared zod schemas.
// Violations are counted on the element (cspWatch); zod must not probe `new Function` (zodJitless).
import './cspWatch';
import './zodJitless';
import { LitElement, css, html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import '@vscode-elements/elements/dist/vscode-toolbar-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import {
  PANEL_SECTIONS,
  parseHostMessage,
  parseWebviewMessage,
  type PanelDiff,
  type PanelItem,
  type PanelState,
  type PanelVersion,
} from '../core/contextPanelProtocol';
import { checkedSender, vscode } from './host';


/** What survives the view being hidden and shown again (the webview is rebuilt then). */
interface SavedState {
  state?: PanelState;
  noteOpen: boolean;
  noteDraft: string;
  conventionsOpen: boolean;
  diffFrom?: string;
  diffTo?: string;
  diff?: PanelDiff;
}

function loadSaved(): SavedState {
  const raw = vscode.getState() as Partial<SavedState> | undefined;
  // Saved by an older build or damaged: start clean rather than trust it.
  const state = raw?.state ? parseHostMessage({ type: 'state', state: raw.state }) : undefined;
  return {
    ...(state?.ok && state.message.type === 'state' ? { state: state.message.state } : {}),
    noteOpen: raw?.noteOpen === true,
    noteDraft: typeof raw?.noteDraft === 'string' ? raw.noteDraft : '',
    conventionsOpen: raw?.conventionsOpen === true,
    ...(typeof raw?.diffFrom === 'string' ? { diffFrom: raw.diffFrom } : {}),
    ...(typeof raw?.diffTo === 'string' ? { diffTo: raw.diffTo } : {}),
  };
}

const send = checkedSender(parseWebviewMessage);

const short = (version: string) => version.slice(0, 12);
const numberFormat = new Intl.NumberFormat();

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function formatRange(range: NonNullable<PanelItem['range']>): string {
  const start = range.startCharacter !== undefined ? `L${range.startLine}:${range.startCharacter}` : `L${range.startLine}`;
  const end = range.endCharacter !== undefined ? `L${range.endLine}:${range.endCharacter}` : `L${range.endLine}`;
  return `${start}-${end}`;
}

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

/** Uris from a drop: VS Code's own list first (explorer drags), then the standard one. */
function droppedUris(data: DataTransfer): string[] {
  const list = data.getData('application/vnd.code.uri-list') || data.getData('text/uri-list');
  return list
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
}

export class ContextPanel extends LitElement {
  static override properties = {
    saved: { state: true },
    notice: { state: true },
    dragging: { state: true },
  };

  declare saved: SavedState;
  declare notice: { level: 'info' | 'warning' | 'error'; text: string } | undefined;
  declare dragging: boolean;

  constructor() {
    super();
    this.saved = loadSaved();
    this.notice = undefined;
    this.dragging = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('message', this.onMessage);
    // The handshake: the host sends nothing until it hears this.
    send({ type: 'ready' });
  }

  override disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
    super.disconnectedCallback();
  }

  private readonly onMessage = (event: MessageEvent): void => {
    const parsed = parseHostMessage(event.data);
    if (!parsed.ok) {
      console.warn(parsed.error);
      return;
    }
    const message = parsed.message;
    if (message.type === 'state') {
      const known = new Set(message.state.history.map((h) => h.version));
      // A diff of versions this change does not have (another change became current) is dropped.
      const keepDiff = this.saved.diff && known.has(this.saved.diff.from) && known.has(this.saved.diff.to);
      this.save({ state: message.state, ...(keepDiff ? {} : { diff: undefined }) });
    } else if (message.type === 'diff') {
      this.save({ diff: message.diff });
    } else {
      this.notice = { level: message.level, text: message.text };
    }
  };

  private save(patch: Partial<SavedState>): void {
    this.saved = { ...this.saved, ...patch };
    vscode.setState(this.saved);
  }

  static override styles = css`
    :host {
      display: block;
      font-family: var(--vscode-font-family);
      font-size: var(--vscode-font-size);
      color: var(--vscode-foreground);
      padding: 4px 0 12px;
      min-height: 100%;
    }
    .drop-target {
      outline: 1px dashed var(--vscode-focusBorder);
      outline-offset: -2px;
      background: var(--vscode-list-dropBackground);
    }
    header {
      display: flex;
      flex-direction: column;
      gap: 2px;
      margin-bottom: 8px;
    }
    .change-title {
      font-weight: 600;
    }
    .muted {
      color: var(--vscode-descriptionForeground);
    }
    code {
      font-family: var(--vscode-editor-font-family);
      font-size: 0.95em;
    }
    .gauge {
      margin: 6px 0 10px;
    }
    .gauge-track {
      height: 6px;
      border-radius: 3px;
      background: var(--vscode-editorWidget-border, var(--vscode-widget-border, rgba(128, 128, 128, 0.35)));
      overflow: hidden;
      margin: 3px 0;
    }
    .gauge-fill {
      height: 100%;
      background: var(--vscode-progressBar-background);
    }
    .gauge-fill.warn {
      background: var(--vscode-editorWarning-foreground);
    }
    .gauge-fill.over {
      background: var(--vscode-errorForeground);
    }
    .toolbar {
      display: flex;
      flex-wrap: wrap;
      gap: 6px;
      margin-bottom: 8px;
    }
    .form {
      display: flex;
      flex-direction: column;
      gap: 6px;
      margin-bottom: 10px;
    }
    .form-actions {
      display: flex;
      gap: 6px;
    }
    .banner {
      display: flex;
      align-items: center;
      gap: 6px;
      padding: 4px 6px;
      margin-bottom: 8px;
      border-left: 3px solid var(--vscode-editorWarning-foreground);
      background: var(--vscode-inputValidation-warningBackground, transparent);
    }
    .banner.error {
      border-left-color: var(--vscode-errorForeground);
      background: var(--vscode-inputValidation-errorBackground, transparent);
    }
    .banner.info {
      border-left-color: var(--vscode-focusBorder);
      background: transparent;
    }
    .banner .grow {
      flex: 1;
      white-space: pre-wrap;
      word-break: break-word;
    }
    h3 {
      font-size: 11px;
      text-transform: uppercase;
      font-weight: 600;
      margin: 12px 0 4px;
      display: flex;
      align-items: center;
      gap: 6px;
    }
    ul {
      list-style: none;
      padding: 0;
      margin: 0;
    }
    li.item {
      padding: 4px 4px 4px 6px;
      border-radius: 3px;
      display: flex;
      flex-direction: column;
      gap: 2px;
    }
    li.item:hover {
      background: var(--vscode-list-hoverBackground);
    }
    li.item:focus-within {
      outline: 1px solid var(--vscode-focusBorder);
      outline-offset: -1px;
    }
    .item-line {
      display: flex;
      align-items: center;
      gap: 4px;
    }
    .item-title {
      flex: 1;
      min-width: 0;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
      background: none;
      border: none;
      padding: 0;
      color: var(--vscode-textLink-foreground);
      font: inherit;
      text-align: left;
      cursor: pointer;
    }
    .item-title:focus-visible {
      outline: 1px solid var(--vscode-focusBorder);
    }
    .item-meta {
      font-size: 0.9em;
      color: var(--vscode-descriptionForeground);
      overflow-wrap: anywhere;
    }
    .stale {
      color: var(--vscode-editorWarning-foreground);
    }
    .actions {
      display: flex;
      gap: 0;
      flex: none;
      /* Like VS Code's own lists: actions show on hover and on keyboard focus. */
      opacity: 0;
    }
    li.item:hover .actions,
    li.item:focus-within .actions {
      opacity: 1;
    }
    .stale {
      font-size: 0.9em;
      display: flex;
      align-items: center;
      gap: 4px;
    }
    pre.preview {
      margin: 2px 0 0;
      padding: 4px 6px;
      white-space: pre-wrap;
      word-break: break-word;
      font-family: var(--vscode-editor-font-family);
      font-size: 0.9em;
      background: var(--vscode-textCodeBlock-background);
      max-height: 10em;
      overflow: auto;
    }
    .empty {
      margin: 8px 0;
    }
    .conventions li {
      display: flex;
      align-items: center;
      gap: 6px;
      padding: 2px 0;
    }
    .conventions .grow {
      flex: 1;
      min-width: 0;
    }
    .history li {
      padding: 4px 0;
      border-bottom: 1px solid var(--vscode-widget-border, transparent);
    }
    .history .current {
      font-weight: 600;
    }
    .compare {
      display: flex;
      flex-wrap: wrap;
      gap: 6px;
      align-items: center;
      margin: 6px 0;
    }
    .diff ul {
      margin-left: 8px;
    }
    .added {
      color: var(--vscode-gitDecoration-addedResourceForeground);
    }
    .removed {
      color: var(--vscode-gitDecoration-deletedResourceForeground);
    }
    .changed {
      color: var(--vscode-gitDecoration-modifiedResourceForeground);
    }
    .drop-hint {
      margin-top: 12px;
      font-size: 0.9em;
    }
  `;

  // The gauge's width set through the CSSOM after each render: a style attribute (as Lit's
  // styleMap writes on first render) would need 'unsafe-inline' under the webview's CSP.
  protected override updated(): void {
    for (const fill of this.renderRoot.querySelectorAll<HTMLElement>('.gauge-fill[data-width]')) fill.style.width = fill.dataset.width ?? '0%';
  }

  override render(): TemplateResult {
    const state = this.saved.state;
    return html`<div
      class=${this.dragging ? 'drop-target' : ''}
      @dragenter=${this.onDragOver}
      @dragover=${this.onDragOver}
      @dragleave=${this.onDragLeave}
      @drop=${this.onDrop}
    >
      ${this.renderNotice()} ${state ? (state.change ? this.renderPack(state) : this.renderNoChange()) : html`<p class="muted">Loading the context pack…</p>`}
    </div>`;
  }

  private renderNotice(): TemplateResult | typeof nothing {
    if (!this.notice) return nothing;
    return html`<div class="banner ${this.notice.level}" role=${this.notice.level === 'error' ? 'alert' : 'status'} data-test="notice">
      <vscode-icon name=${this.notice.level === 'error' ? 'error' : this.notice.level === 'warning' ? 'warning' : 'info'}></vscode-icon>
      <span class="grow">${this.notice.text}</span>
      <vscode-toolbar-button icon="close" label="Dismiss" @click=${() => (this.notice = undefined)}></vscode-toolbar-button>
    </div>`;
  }

  private renderNoChange(): TemplateResult {
    return html`<p class="empty">No change is in progress: the context pack belongs to a change.</p>
      <vscode-button icon="add" @click=${() => send({ type: 'startChange' })}>Start Change</vscode-button>`;
  }

  private renderPack(state: PanelState): TemplateResult {
    const change = state.change!;
    return html`
      <header>
        <span class="change-title" data-test="change">${change.title}</span>
        <span class="muted" data-test="version" data-version=${state.version} title=${state.version}
          >Version <code>${short(state.version)}</code> · ${state.items.length} ${state.items.length === 1 ? 'item' : 'items'} · ${state.history.length}
          ${state.history.length === 1 ? 'edit' : 'edits'}</span
        >
      </header>
      ${this.renderGauge(state)} ${this.renderToolbar(state)} ${this.saved.noteOpen ? this.renderNoteForm() : nothing}
      ${this.saved.conventionsOpen ? this.renderConventions(state) : nothing} ${this.renderStaleBanner(state)}
      ${state.items.length === 0
        ? html`<p class="empty muted">The pack is empty. Add files, selections, notes or the project's conventions; the next stage gets them.</p>`
        : PANEL_SECTIONS.map((section) => this.renderSection(section, state))}
      ${this.renderOtherKinds(state)} ${this.renderHistory(state)}
      <p class="drop-hint muted"><vscode-icon name="cloud-upload"></vscode-icon> Drop files or folders here (hold Shift while dragging from the Explorer) to add them.</p>
    `;
  }

  private renderGauge(state: PanelState): TemplateResult {
    const budget = state.budget;
    const tokens = budget.tokens;
    const share = tokens ? state.totalTokens / tokens : 0;
    const level = share > 1 ? 'over' : share >= 0.8 ? 'warn' : '';
    return html`<div class="gauge" data-test="gauge">
      <div>
        <span data-test="total-tokens">~${numberFormat.format(state.totalTokens)}</span>
        ${tokens !== undefined ? html`/ ${numberFormat.format(tokens)} tokens · ${Math.round(share * 100)}%` : html`tokens`}
      </div>
      ${tokens !== undefined
        ? html`<div
            class="gauge-track"
            role="meter"
            aria-label="Context tokens against the next stage's budget"
            aria-valuemin="0"
            aria-valuemax=${tokens}
            aria-valuenow=${Math.min(state.totalTokens, tokens)}
          >
            <div class="gauge-fill ${level}" data-width=${`${Math.min(100, share * 100).toFixed(1)}%`}></div>
          </div>`
        : nothing}
      <div class="muted" data-test="budget-source" title="Tokens are estimated as characters ÷ 4. Set budget.tokens on a stage in .factory/pipeline.json to choose its budget.">
        Budget: ${budget.explanation}
      </div>
    </div>`;
  }

  private renderToolbar(state: PanelState): TemplateResult {
    return html`<div class="toolbar" role="toolbar" aria-label="Add to the context pack">
      <vscode-button icon="new-file" secondary data-action="add-file" @click=${() => send({ type: 'addFile' })}>Add File…</vscode-button>
      <vscode-button icon="note" secondary data-action="add-note" @click=${() => this.save({ noteOpen: !this.saved.noteOpen })}>Add Note</vscode-button>
      <vscode-button icon="law" secondary data-action="conventions" @click=${() => this.save({ conventionsOpen: !this.saved.conventionsOpen })}
        >Conventions (${state.conventions.length})</vscode-button
      >
    </div>`;
  }

  private renderNoteForm(): TemplateResult {
    const submit = () => {
      const text = this.saved.noteDraft;
      if (!text.trim()) {
        this.notice = { level: 'warning', text: 'A note needs some text.' };
        return;
      }
      send({ type: 'addNote', text });
      this.save({ noteDraft: '', noteOpen: false });
    };
    return html`<div class="form" data-test="note-form">
      <vscode-textarea
        rows="4"
        resize="vertical"
        label="Note for the next stage"
        placeholder="A note for the agents and people of the next stages (markdown)"
        data-test="note-text"
        .value=${this.saved.noteDraft}
        @input=${(e: Event) => this.save({ noteDraft: (e.target as HTMLTextAreaElement).value })}
        @keydown=${(e: KeyboardEvent) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit();
        }}
      ></vscode-textarea>
      <div class="form-actions">
        <vscode-button data-action="submit-note" @click=${submit}>Add Note</vscode-button>
        <vscode-button secondary @click=${() => this.save({ noteOpen: false })}>Cancel</vscode-button>
      </div>
    </div>`;
  }

  private renderConventions(state: PanelState): TemplateResult {
    if (state.conventions.length === 0) {
      return html`<p class="muted" data-test="conventions">No convention files found (AGENTS.md, CLAUDE.md, .github/copilot-instructions.md, .cursor/rules, .kiro/steering…).</p>`;
    }
    const addable = state.conventions.filter((c) => !c.inPack && !c.problem);
    return html`<div data-test="conventions">
      <ul class="conventions" aria-label="Detected conventions">
        ${state.conventions.map(
          (c) => html`<li>
            <vscode-icon name=${c.kind === 'folder' ? 'folder' : 'file'}></vscode-icon>
            <span class="grow"
              ><code>${c.path}</code> <span class="muted">${c.tool} · ${c.kind === 'folder' ? `${c.files} files, ` : ''}${formatBytes(c.bytes)}</span>
              ${c.problem ? html`<span class="stale">${c.problem}</span>` : nothing}</span
            >
            ${c.inPack
              ? html`<span class="muted">in the pack</span>`
              : html`<vscode-button secondary ?disabled=${c.problem !== undefined} data-action="add-convention" @click=${() => send({ type: 'addConventions', paths: [c.path] })}
                  >Add</vscode-button
                >`}
          </li>`,
        )}
      </ul>
      ${addable.length > 1 ? html`<vscode-button @click=${() => send({ type: 'addConventions', paths: addable.map((c) => c.path) })}>Add All</vscode-button>` : nothing}
    </div>`;
  }

  private renderStaleBanner(state: PanelState): TemplateResult | typeof nothing {
    if (state.staleCount === 0) return nothing;
    return html`<div class="banner" role="status" data-test="stale-banner">
      <vscode-icon name="history"></vscode-icon>
      <span class="grow">${state.staleCount} ${state.staleCount === 1 ? 'item no longer matches' : 'items no longer match'} the workspace.</span>
      <vscode-button secondary data-action="refresh-stale" @click=${() => send({ type: 'refreshStale' })}>Refresh All</vscode-button>
    </div>`;
  }

  private renderSection(section: { kind: string; title: string; icon: string }, state: PanelState): TemplateResult | typeof nothing {
    const items = state.items.filter((i) => i.kind === section.kind);
    if (items.length === 0) return nothing;
    return this.renderGroup(section.title, section.icon, items);
  }

  /** Kinds a newer version added: shown, under their own name. */
  private renderOtherKinds(state: PanelState): TemplateResult | typeof nothing {
    const known = new Set(PANEL_SECTIONS.map((s) => s.kind));
    const items = state.items.filter((i) => !known.has(i.kind));
    return items.length ? this.renderGroup('Other', 'question', items) : nothing;
  }

  private renderGroup(title: string, icon: string, items: PanelItem[]): TemplateResult {
    return html`<section data-test="section" data-kind=${items[0]!.kind}>
      <h3><vscode-icon name=${icon}></vscode-icon>${title} <vscode-badge variant="counter">${items.length}</vscode-badge></h3>
      <ul aria-label=${title}>
        ${repeat(
          items,
          (item) => item.id,
          (item, index) => this.renderItem(item, index, items.length),
        )}
      </ul>
    </section>`;
  }

  private renderItem(item: PanelItem, index: number, count: number): TemplateResult {
    const where = item.path ? `${item.path}${item.range ? `#${formatRange(item.range)}` : ''}` : undefined;
    const staleText = item.stale === 'missing' ? 'source missing' : item.stale === 'changed' ? 'changed on disk' : undefined;
    const consumed = item.consumedBy.length
      ? item.consumedBy.map((c) => `${c.stageTitle} (${c.attempts} ${c.attempts === 1 ? 'attempt' : 'attempts'}${c.sameContent ? '' : ', older content'})`).join(', ')
      : 'no stage yet';
    const onKey = (e: KeyboardEvent) => {
      // Alt+↑/↓ move the focused item, as in VS Code's own lists and editors.
      if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
        e.preventDefault();
        send({ type: 'moveItem', itemId: item.id, direction: e.key === 'ArrowUp' ? 'up' : 'down' });
      } else if (e.key === 'Delete' && e.target === e.currentTarget) {
        send({ type: 'removeItem', itemId: item.id });
      }
    };
    return html`<li class="item" data-test="item" data-item=${item.id} data-kind=${item.kind} ?data-stale=${item.stale !== undefined} @keydown=${onKey}>
      <div class="item-line">
        <button class="item-title" data-action="open" title=${where ?? item.title} @click=${() => send({ type: 'openItem', itemId: item.id })}>${item.title}</button>
        ${item.pinned ? html`<vscode-icon name="pinned" label="pinned"></vscode-icon>` : nothing}
        <span class="actions">
          <vscode-toolbar-button
            icon=${item.pinned ? 'pinned' : 'pin'}
            label=${item.pinned ? `Unpin ${item.title}` : `Pin ${item.title} (cut last when over budget)`}
            data-action="pin"
            @click=${() => send({ type: 'pinItem', itemId: item.id, pinned: !item.pinned })}
          ></vscode-toolbar-button>
          <vscode-toolbar-button
            icon="arrow-up"
            label=${`Move ${item.title} up`}
            data-action="up"
            ?disabled=${index === 0}
            @click=${() => index > 0 && send({ type: 'moveItem', itemId: item.id, direction: 'up' })}
          ></vscode-toolbar-button>
          <vscode-toolbar-button
            icon="arrow-down"
            label=${`Move ${item.title} down`}
            data-action="down"
            ?disabled=${index === count - 1}
            @click=${() => index < count - 1 && send({ type: 'moveItem', itemId: item.id, direction: 'down' })}
          ></vscode-toolbar-button>
          ${item.diskBacked
            ? html`<vscode-toolbar-button
                icon="refresh"
                label=${`Refresh ${item.title} from the workspace`}
                data-action="refresh"
                @click=${() => send({ type: 'refreshItem', itemId: item.id })}
              ></vscode-toolbar-button>`
            : nothing}
          <vscode-toolbar-button icon="close" label=${`Remove ${item.title}`} data-action="remove" @click=${() => send({ type: 'removeItem', itemId: item.id })}></vscode-toolbar-button>
        </span>
      </div>
      ${staleText ? html`<div class="stale"><vscode-icon name="warning"></vscode-icon> <span data-test="stale">${staleText}</span></div>` : nothing}
      <div class="item-meta" data-test="meta">
        ${where && where !== item.title ? html`<code>${where}</code> · ` : nothing}${item.origin ? html`${item.origin} · ` : nothing}${item.bytes !== undefined
          ? html`${formatBytes(item.bytes)} · `
          : nothing}~${numberFormat.format(item.tokens)} tokens · consumed by ${consumed}${item.addedBy ? html` · added by ${item.addedBy}` : nothing}${item.addedAt
          ? html` ${formatTime(item.addedAt)}`
          : nothing}
      </div>
      ${item.preview !== undefined ? html`<pre class="preview" data-test="preview">${item.preview}</pre>` : nothing}
    </li>`;
  }

  private renderHistory(state: PanelState): TemplateResult {
    const newestFirst = [...state.history].reverse();
    const versions = state.history.map((h) => h.version);
    const to = this.saved.diffTo && versions.includes(this.saved.diffTo) ? this.saved.diffTo : versions[versions.length - 1];
    const from = this.saved.diffFrom && versions.includes(this.saved.diffFrom) ? this.saved.diffFrom : versions[versions.length - 2];
    const option = (h: PanelVersion, selected: string | undefined) =>
      html`<vscode-option value=${h.version} ?selected=${h.version === selected}>${short(h.version)} · ${formatTime(h.at)}</vscode-option>`;
    return html`<vscode-collapsible title="History" description=${`${state.history.length} versions`} data-test="history">
      <div>
        ${state.history.length >= 2
          ? html`<div class="compare">
              <vscode-single-select aria-label="Compare from version" data-test="diff-from" @change=${(e: Event) => this.save({ diffFrom: (e.target as HTMLSelectElement).value })}>
                ${newestFirst.map((h) => option(h, from))}
              </vscode-single-select>
              <span>→</span>
              <vscode-single-select aria-label="Compare to version" data-test="diff-to" @change=${(e: Event) => this.save({ diffTo: (e.target as HTMLSelectElement).value })}>
                ${newestFirst.map((h) => option(h, to))}
              </vscode-single-select>
              <vscode-button secondary data-action="compare" ?disabled=${!from || !to} @click=${() => from && to && send({ type: 'requestDiff', from, to })}>Compare</vscode-button>
            </div>`
          : nothing}
        ${this.saved.diff ? this.renderDiff(this.saved.diff) : nothing}
        <ul class="history" aria-label="Pack versions, newest first">
          ${newestFirst.map((h) => this.renderVersion(h, h.version === state.version))}
        </ul>
      </div>
    </vscode-collapsible>`;
  }

  private renderVersion(h: PanelVersion, current: boolean): TemplateResult {
    const parts: string[] = [];
    if (h.added.length) parts.push(`added ${h.added.join(', ')}`);
    if (h.removed.length) parts.push(`removed ${h.removed.join(', ')}`);
    if (h.refreshed.length) parts.push(`refreshed ${h.refreshed.join(', ')}`);
    if (h.pinned.length) parts.push(`pinned ${h.pinned.join(', ')}`);
    if (h.unpinned.length) parts.push(`unpinned ${h.unpinned.join(', ')}`);
    if (h.reordered) parts.push('reordered');
    return html`<li data-test="version-entry" data-version=${h.version}>
      <div class=${current ? 'current' : ''}><code>${short(h.version)}</code>${current ? ' (current)' : ''} · ${formatTime(h.at)}${h.by ? ` · ${h.by}` : ''}${h.stageId ? ` · for ${h.stageId}` : ''}</div>
      <div>${parts.join('; ')}</div>
      <div class="muted">${h.itemCount} items · ~${numberFormat.format(h.tokens)} tokens</div>
      ${h.consumedBy.length ? html`<div class="muted">consumed by ${h.consumedBy.map((c) => `${c.stageId} attempt ${c.attempt}`).join(', ')}</div>` : nothing}
      ${h.carriedBy.length ? html`<div class="muted">carried forward by ${h.carriedBy.map((c) => `${c.fromStage} → ${c.toStage ?? 'next stage'}`).join(', ')}</div>` : nothing}
    </li>`;
  }

  private renderDiff(diff: PanelDiff): TemplateResult {
    const empty = !diff.added.length && !diff.removed.length && !diff.changed.length && !diff.pinned.length && !diff.unpinned.length && !diff.reordered;
    return html`<div class="diff" data-test="diff">
      <div><code>${short(diff.from)}</code> → <code>${short(diff.to)}</code></div>
      ${empty ? html`<div class="muted">No difference.</div>` : nothing}
      <ul>
        ${diff.added.map((i) => html`<li class="added">+ ${i.label} <span class="muted">(${i.kind}, ~${i.tokens} tokens)</span></li>`)}
        ${diff.removed.map((i) => html`<li class="removed">− ${i.label} <span class="muted">(${i.kind})</span></li>`)}
        ${diff.changed.map((i) => html`<li class="changed">~ ${i.label} <span class="muted">(~${i.tokensBefore} → ~${i.tokensAfter} tokens)</span></li>`)}
        ${diff.pinned.map((l) => html`<li>pinned ${l}</li>`)} ${diff.unpinned.map((l) => html`<li>unpinned ${l}</li>`)}
        ${diff.reordered ? html`<li>items reordered</li>` : nothing}
      </ul>
    </div>`;
  }

  private readonly onDragOver = (e: DragEvent): void => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    this.dragging = true;
  };

  private readonly onDragLeave = (e: DragEvent): void => {
    if (e.currentTarget === e.target) this.dragging = false;
  };

  private readonly onDrop = (e: DragEvent): void => {
    e.preventDefault();
    this.dragging = false;
    const uris = e.dataTransfer ? droppedUris(e.dataTransfer) : [];
    if (uris.length === 0) {
      this.notice = { level: 'warning', text: 'Nothing to add: drop files or folders (hold Shift while dragging from the Explorer).' };
      return;
    }
    send({ type: 'dropUris', uris });
  };
}

customElements.define('factory-context-panel', ContextPanel);
