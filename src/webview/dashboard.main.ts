// The Flow Dashboard's browser side: headline numbers with their trend (the signal
// first), SVG charts drawn with Lit's `svg` templates (no charting library, nothing
// evaluated, no inline style attributes: colours come from media/dashboard.css through
// classes and VS Code's theme variables), a table view under every chart, and a
// sortable, filterable, virtualized table of every change. Every string from the
// record is a Lit text binding, never HTML. Messages are checked by the shared schemas.
import { onCspViolation } from './cspWatch';
import './zodJitless';
import { LitElement, css, html, nothing, svg, type TemplateResult, type SVGTemplateResult } from 'lit';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { parseDashboardHostMessage, parseDashboardWebviewMessage, type DashboardFilter, type DashboardReport as MetricsReport } from '../core/dashboardProtocol';
import type { ChangeRow, StageOwnerRow } from '../core/metricsTypes';
import { checkedSender, vscode } from './host';

const send = checkedSender(parseDashboardWebviewMessage);

// Every CSP violation is reported to the host (and counted on the element): the host test fails on any.
onCspViolation((directive, blocked) => send({ type: 'cspViolation', directive, blocked }));

const pct = (x: number | undefined) => (x === undefined ? '—' : `${Math.round(x * 100)}%`);
const hours = (ms: number | undefined) => (ms === undefined ? '—' : ms < 3_600_000 ? `${Math.round(ms / 60_000)}m` : ms < 48 * 3_600_000 ? `${(ms / 3_600_000).toFixed(1)}h` : `${(ms / 86_400_000).toFixed(1)}d`);
const money = (x: number) => `$${x.toFixed(2)}`;
const ROW = 26;
const W = 520;
const H = 180;
const PAD = { l: 40, r: 10, t: 10, b: 28 };

interface Series {
  name: string;
  cls: string;
  values: (number | undefined)[];
}

/** A line chart over labelled points (weeks); y from 0 to `max`. */
function lineChart(labels: string[], series: Series[], max: number, yFormat: (v: number) => string): SVGTemplateResult {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i: number) => PAD.l + (labels.length <= 1 ? iw / 2 : (i * iw) / (labels.length - 1));
  const y = (v: number) => PAD.t + ih - (max > 0 ? (v / max) * ih : 0);
  const every = Math.max(1, Math.ceil(labels.length / 6));
  return svg`
    <g class="axis">
      ${[0, 0.5, 1].map((f) => svg`<line class="grid" x1=${PAD.l} x2=${W - PAD.r} y1=${y(max * f)} y2=${y(max * f)}></line><text class="tick" x=${PAD.l - 4} y=${y(max * f) + 4} text-anchor="end">${yFormat(max * f)}</text>`)}
      ${labels.map((l, i) => (i % every === 0 ? svg`<text class="tick" x=${x(i)} y=${H - 8} text-anchor="middle">${l.slice(5)}</text>` : nothing))}
    </g>
    ${series.map((s) => {
      const pts = s.values.map((v, i) => (v === undefined ? undefined : `${x(i)},${y(v)}`)).filter((p): p is string => !!p);
      return svg`<polyline class="line ${s.cls}" points=${pts.join(' ')}></polyline>
        ${s.values.map((v, i) => (v === undefined ? nothing : svg`<circle class="dot ${s.cls}" cx=${x(i)} cy=${y(v)} r="3"><title>${labels[i]}: ${yFormat(v)}</title></circle>`))}`;
    })}`;
}

/** Horizontal bars, one per label, each up to `max`. */
function barChart(items: { label: string; value: number; cls?: string; text?: string }[], max: number): SVGTemplateResult {
  const bh = 18;
  const labelW = 190;
  const iw = W - labelW - 60;
  return svg`${items.map(
    (it, i) => svg`
      <text class="label" x=${labelW - 6} y=${i * (bh + 6) + 14} text-anchor="end">${it.label.length > 30 ? `${it.label.slice(0, 29)}…` : it.label}</text>
      <rect class="bar ${it.cls ?? 'c1'}" x=${labelW} y=${i * (bh + 6)} width=${Math.max(1, max > 0 ? (it.value / max) * iw : 0)} height=${bh}><title>${it.label}: ${it.text ?? it.value}</title></rect>
      <text class="value" x=${labelW + Math.max(1, max > 0 ? (it.value / max) * iw : 0) + 4} y=${i * (bh + 6) + 14}>${it.text ?? String(it.value)}</text>`,
  )}`;
}

/** Stacked areas (cumulative flow): one band per key, bottom to top. */
function stackedArea(labels: string[], keys: string[], rows: Record<string, number>[]): SVGTemplateResult {
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const totals = rows.map((r) => keys.reduce((s, k) => s + (r[k] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const x = (i: number) => PAD.l + (labels.length <= 1 ? iw / 2 : (i * iw) / (labels.length - 1));
  const y = (v: number) => PAD.t + ih - (v / max) * ih;
  const base = rows.map(() => 0);
  const bands = keys.map((k, ki) => {
    const lower = [...base];
    rows.forEach((r, i) => (base[i] = base[i]! + (r[k] ?? 0)));
    const top = base.map((v, i) => `${x(i)},${y(v)}`);
    const bottom = lower.map((v, i) => `${x(i)},${y(v)}`).reverse();
    return svg`<polygon class="area c${(ki % 6) + 1}" points=${[...top, ...bottom].join(' ')}><title>${k}</title></polygon>`;
  });
  const every = Math.max(1, Math.ceil(labels.length / 6));
  return svg`${bands}
    <g class="axis">${labels.map((l, i) => (i % every === 0 ? svg`<text class="tick" x=${x(i)} y=${H - 8} text-anchor="middle">${l.slice(5)}</text>` : nothing))}
    <text class="tick" x=${PAD.l - 4} y=${PAD.t + 8} text-anchor="end">${max}</text></g>`;
}

type SortKey = 'title' | 'state' | 'stage' | 'branch' | 'author' | 'createdAt' | 'lastEventAt' | 'leadTimeMs' | 'attempts' | 'costUsd' | 'signal';

export class FactoryDashboard extends LitElement {
  static override properties = {
    report: { state: true },
    filter: { state: true },
    stuckDays: { state: true },
    loading: { state: true },
    notice: { state: true },
    sortKey: { state: true },
    sortDesc: { state: true },
    query: { state: true },
    scrolled: { state: true },
    tables: { state: true },
  };

  // Reactive properties are declared, not class fields: a field would shadow Lit's accessor and nothing would re-render.
  declare report: MetricsReport | undefined;
  declare filter: DashboardFilter;
  declare stuckDays: number;
  declare loading: boolean;
  declare notice: { level: string; text: string } | undefined;
  declare sortKey: SortKey;
  declare sortDesc: boolean;
  declare query: string;
  declare scrolled: number;
  /** Charts shown as tables. */
  declare tables: Set<string>;

  constructor() {
    super();
    this.filter = {};
    this.stuckDays = 3;
    this.loading = true;
    this.sortKey = 'lastEventAt';
    this.sortDesc = true;
    this.query = '';
    this.scrolled = 0;
    this.tables = new Set<string>();
  }
  private timeZone = 'UTC';

  static override styles = css`
    :host { display: block; color: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
    h2 { font-size: 1.1em; margin: 18px 0 6px; }
    .headline { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
    .card { border: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, #8884)); border-radius: 4px; padding: 8px 10px; }
    .card.first { border-color: var(--vscode-focusBorder); }
    .card .n { font-size: 1.8em; font-weight: 600; }
    .card .k { opacity: 0.85; }
    .card .t { font-size: 0.9em; opacity: 0.8; }
    .up { color: var(--vscode-charts-green); }
    .down { color: var(--vscode-charts-red); }
    .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 12px; }
    figure { margin: 0; border: 1px solid var(--vscode-panel-border, #8884); border-radius: 4px; padding: 8px; }
    figcaption { display: flex; justify-content: space-between; align-items: center; font-weight: 600; margin-bottom: 4px; }
    figcaption button, .link { background: none; border: none; color: var(--vscode-textLink-foreground); cursor: pointer; font: inherit; padding: 0; }
    svg { width: 100%; max-width: 680px; height: auto; display: block; }
    .grid { stroke: var(--vscode-charts-lines, #8884); stroke-width: 1; }
    .tick, .label, .value { fill: var(--vscode-foreground); font-size: 10px; }
    .line { fill: none; stroke-width: 2; }
    .c1 { stroke: var(--vscode-charts-blue); fill: var(--vscode-charts-blue); }
    .c2 { stroke: var(--vscode-charts-green); fill: var(--vscode-charts-green); }
    .c3 { stroke: var(--vscode-charts-yellow); fill: var(--vscode-charts-yellow); }
    .c4 { stroke: var(--vscode-charts-orange); fill: var(--vscode-charts-orange); }
    .c5 { stroke: var(--vscode-charts-purple); fill: var(--vscode-charts-purple); }
    .c6 { stroke: var(--vscode-charts-red); fill: var(--vscode-charts-red); }
    polyline.line { fill: none; }
    .area { stroke-width: 0.5; fill-opacity: 0.75; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 2px 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px; }
    th { position: sticky; top: 0; background: var(--vscode-editor-background); cursor: pointer; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
    tr.row { height: ${ROW}px; cursor: pointer; }
    tr.row:hover, tr.row:focus { background: var(--vscode-list-hoverBackground); outline: none; }
    .scroll { height: 420px; overflow-y: auto; border: 1px solid var(--vscode-panel-border, #8884); }
    .filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
    select, input { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, #8884); font: inherit; padding: 2px 4px; }
    .notice { padding: 6px; border-left: 3px solid var(--vscode-focusBorder); margin: 6px 0; }
    .notice.error { border-color: var(--vscode-errorForeground); }
    .muted { opacity: 0.75; }
    .bad { color: var(--vscode-errorForeground); }
    .state-stuck { color: var(--vscode-charts-orange); }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    const saved = vscode.getState() as { tables?: string[] } | undefined;
    if (Array.isArray(saved?.tables)) this.tables = new Set(saved.tables.filter((t): t is string => typeof t === 'string'));
    window.addEventListener('message', (event: MessageEvent) => this.onHostMessage(event.data));
    send({ type: 'ready' });
  }

  private onHostMessage(raw: unknown): void {
    const parsed = parseDashboardHostMessage(raw);
    if (!parsed.ok) {
      console.error(parsed.error);
      return;
    }
    const m = parsed.message;
    if (m.type === 'state') {
      const received = performance.now();
      // How long drawing the report took (bench/metrics-host.mjs reads it).
      void this.updateComplete.then(() => requestAnimationFrame(() => this.setAttribute('data-paint-ms', (performance.now() - received).toFixed(0))));
      this.report = m.report as unknown as MetricsReport;
      this.filter = m.filter;
      this.stuckDays = m.stuckDays;
      this.timeZone = m.timeZone;
      this.loading = false;
      this.setAttribute('data-changes', String(this.report.metrics.changes));
    } else if (m.type === 'loading') this.loading = true;
    else this.notice = { level: m.level, text: m.text };
  }

  private toggleTable(id: string): void {
    const next = new Set(this.tables);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    this.tables = next;
    vscode.setState({ tables: [...next] });
  }

  private setFilter(patch: Partial<DashboardFilter>, stuckDays = this.stuckDays): void {
    const filter: DashboardFilter = { ...this.filter, ...patch };
    for (const k of Object.keys(filter) as (keyof DashboardFilter)[]) if (filter[k] === undefined || filter[k] === '') delete filter[k];
    this.filter = filter;
    send({ type: 'setFilter', filter, stuckDays });
  }

  private chart(id: string, title: string, graphic: SVGTemplateResult, height: number, table: TemplateResult): TemplateResult {
    const asTable = this.tables.has(id);
    return html`<figure data-chart=${id}>
      <figcaption><span>${title}</span><button class="toggle" data-toggle=${id} @click=${() => this.toggleTable(id)}>${asTable ? 'Chart' : 'Table'}</button></figcaption>
      ${asTable ? table : html`<svg viewBox="0 0 ${W} ${height}" role="img" aria-label=${title}>${graphic}</svg>`}
    </figure>`;
  }

  override render(): TemplateResult {
    const r = this.report;
    if (!r) return html`<p class="muted">${this.loading ? 'Reading the team’s history…' : 'No history yet.'}</p>${this.renderNotice()}`;
    const m = r.metrics;
    return html`
      ${this.renderNotice()}
      ${this.renderFilters()}
      <p class="muted">${m.changes} changes from ${r.history.stats.refs} branches${r.history.stats.fromGit ? '' : ' (working folder only)'} · weeks in ${this.timeZone}${this.loading ? ' · updating…' : ''}</p>
      ${this.renderHeadline()}
      <h2>Charts</h2>
      <div class="charts">${this.renderCharts()}</div>
      ${this.renderStuck()}
      ${this.renderAutonomy()}
      ${this.renderLessons()}
      <h2>Changes</h2>
      ${this.renderTable()}
      <p><vscode-button id="export-csv" @click=${() => send({ type: 'export', format: 'csv' })}>Export CSV</vscode-button>
      <vscode-button id="export-json" secondary @click=${() => send({ type: 'export', format: 'json' })}>Export JSON</vscode-button></p>`;
  }

  private renderNotice(): TemplateResult | typeof nothing {
    return this.notice ? html`<div class="notice ${this.notice.level}" role="status">${this.notice.text}</div>` : nothing;
  }

  private renderFilters(): TemplateResult {
    const c = this.report!.metrics.choices;
    const select = (key: keyof DashboardFilter, label: string, options: string[]) => html`<label>${label}
      <select data-filter=${key} @change=${(e: Event) => this.setFilter({ [key]: (e.target as HTMLSelectElement).value || undefined })}>
        <option value="">all</option>
        ${options.map((o) => html`<option value=${o} ?selected=${this.filter[key] === o}>${o}</option>`)}
      </select></label>`;
    const DAY = 86_400_000;
    const period = this.filter.since === undefined ? '' : String(Math.round((this.report!.metrics.generatedAt - this.filter.since) / DAY));
    return html`<div class="filters">
      <label>Period <select data-filter="period" @change=${(e: Event) => {
        const days = Number((e.target as HTMLSelectElement).value);
        this.setFilter({ since: days ? this.report!.metrics.generatedAt - days * DAY : undefined });
      }}>
        ${[['', 'all time'], ['28', 'last 4 weeks'], ['84', 'last 12 weeks'], ['182', 'last 26 weeks']].map(([v, l]) => html`<option value=${v!} ?selected=${period === v}>${l}</option>`)}
      </select></label>
      ${select('stage', 'Stage', c.stages)} ${select('owner', 'Owner', c.owners)} ${select('backend', 'Backend', c.backends)} ${select('branch', 'Branch', c.branches)} ${select('author', 'Author', c.authors)}
      <label>Stuck after <input type="number" min="1" max="365" .value=${String(this.stuckDays)} @change=${(e: Event) => this.setFilter({}, Math.max(1, Math.min(365, Number((e.target as HTMLInputElement).value) || 3)))} /> days</label>
    </div>`;
  }

  private renderHeadline(): TemplateResult {
    const h = this.report!.metrics.headline;
    const trend = (now: number | undefined, before: number | undefined, fmt: (x: number) => string) => {
      if (now === undefined || before === undefined) return html`<span class="t muted">no earlier period</span>`;
      const d = now - before;
      return html`<span class="t ${d >= 0 ? 'up' : 'down'}">${d >= 0 ? '▲' : '▼'} ${fmt(Math.abs(d))} vs 4 weeks before</span>`;
    };
    const s = this.report!.metrics.signal;
    return html`<div class="headline">
      <div class="card first" data-headline="signal"><div class="k">Signal: context kept</div><div class="n">${pct(h.signalShare)}</div>
        <div class="t">${s.kept} kept · ${s.recreated} re-created · ${s.unverified} unverified</div>${trend(h.signalShare, h.signalShareBefore, (x) => `${Math.round(x * 100)} pts`)}</div>
      <div class="card" data-headline="firstPass"><div class="k">First-pass verification</div><div class="n">${pct(h.firstPassRate)}</div>${trend(h.firstPassRate, h.firstPassRateBefore, (x) => `${Math.round(x * 100)} pts`)}</div>
      <div class="card" data-headline="throughput"><div class="k">Done last week</div><div class="n">${h.throughputLastWeek}</div><span class="t">${h.throughputWeekBefore} the week before</span></div>
      <div class="card" data-headline="leadTime"><div class="k">Lead time (median)</div><div class="n">${hours(h.leadTimeMedianMs)}</div></div>
      <div class="card" data-headline="wip"><div class="k">In progress</div><div class="n">${h.wip}</div></div>
      <div class="card" data-headline="stuck"><div class="k">Stuck (${this.stuckDays}+ days)</div><div class="n">${h.stuck}</div></div>
      <div class="card" data-headline="cost"><div class="k">Agent cost</div><div class="n">${money(h.costUsd)}</div></div>
    </div>`;
  }

  private renderCharts(): TemplateResult[] {
    const m = this.report!.metrics;
    const weeks = m.signal.weekly.map((w) => w.week);
    const tableOf = (header: string[], rows: (string | number)[][]) => html`<table><thead><tr>${header.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
    const stages = m.stages;
    const maxP90 = Math.max(1, ...stages.map((s) => s.timeInStage.p90 ?? 0));
    const owners = m.stageOwners.filter((s) => s.decided > 0);
    const throughputMax = Math.max(1, ...m.flow.weekly.map((w) => w.done));
    const keys = [...m.choices.stages, 'done'];
    const failures = m.hotspots.slice(0, 10);
    const failMax = Math.max(1, ...failures.map((f) => f.count));
    const label = (s: StageOwnerRow) => `${s.stageId} · ${s.owner}`;
    return [
      this.chart('signal', 'The signal over time (share of changes that kept context)', lineChart(weeks, [{ name: 'share', cls: 'c1', values: m.signal.weekly.map((w) => w.share) }], 1, (v) => `${Math.round(v * 100)}%`), H,
        tableOf(['week', 'kept', 're-created or unverified', 'share'], m.signal.weekly.map((w) => [w.week, w.kept, w.recreated, pct(w.share)]))),
      this.chart('timeInStage', 'Time in stage (median and p90)', barChart(stages.flatMap((s) => [{ label: `${s.stageId} median`, value: s.timeInStage.median ?? 0, cls: 'c1', text: hours(s.timeInStage.median) }, { label: `${s.stageId} p90`, value: s.timeInStage.p90 ?? 0, cls: 'c4', text: hours(s.timeInStage.p90) }]), maxP90), stages.length * 48 + 10,
        tableOf(['stage', 'median', 'p90', 'agent work', 'waiting for a person'], stages.map((s) => [s.stageId, hours(s.timeInStage.median), hours(s.timeInStage.p90), hours(s.workMs), hours(s.personWaitMs)]))),
      this.chart('firstPass', 'First-pass rate per stage and owner', barChart(owners.map((s) => ({ label: label(s), value: s.firstPassRate ?? 0, cls: (s.firstPassRate ?? 0) >= 0.7 ? 'c2' : 'c3', text: `${pct(s.firstPassRate)} of ${s.decided}` })), 1), owners.length * 24 + 10,
        tableOf(['stage', 'owner', 'visits', 'first pass', 'retries', 'sent back', 'rolled back', 'cost', 'tokens'], m.stageOwners.map((s) => [s.stageId, s.owner, s.visits, `${pct(s.firstPassRate)} (${s.firstPass}/${s.decided})`, s.retries, s.sendBacks, s.rollbacks, money(s.costUsd), s.tokens]))),
      this.chart('throughput', 'Throughput per week', lineChart(m.flow.weekly.map((w) => w.week), [{ name: 'done', cls: 'c2', values: m.flow.weekly.map((w) => w.done) }, { name: 'started', cls: 'c1', values: m.flow.weekly.map((w) => w.started) }], throughputMax, (v) => String(Math.round(v))), H,
        tableOf(['week', 'started', 'done', 'lead time (median)'], m.flow.weekly.map((w) => [w.week, w.started, w.done, hours(w.leadTimeMedianMs)]))),
      this.chart('cumulative', 'Cumulative flow by stage', stackedArea(m.flow.cumulative.map((c) => c.week), keys, m.flow.cumulative.map((c) => c.counts)), H,
        tableOf(['week', ...keys], m.flow.cumulative.map((c) => [c.week, ...keys.map((k) => c.counts[k] ?? 0)]))),
      this.chart('failures', 'Failure reasons (hotspots)', barChart(failures.map((f) => ({ label: `${f.stageId} · ${f.kind}`, value: f.count, cls: 'c6' })), failMax), failures.length * 24 + 10,
        tableOf(['stage', 'kind', 'count', 'example'], m.hotspots.map((f) => [f.stageId, f.kind, f.count, f.examples[0]?.reason ?? '']))),
    ];
  }

  private renderStuck(): TemplateResult {
    const m = this.report!.metrics;
    return html`<h2>Where work gets stuck</h2>
      ${m.stuck.length === 0 ? html`<p class="muted">Nothing has waited ${this.stuckDays} days or more.</p>` : html`<table data-table="stuck"><thead><tr><th>change</th><th>waits in</th><th>for</th><th>idle</th></tr></thead><tbody>
        ${m.stuck.slice(0, 20).map((s) => html`<tr class="row" @click=${() => send({ type: 'openChange', changeId: s.changeId })}><td>${s.title}</td><td>${s.stageId ?? ''}</td><td>${s.waitingFor === 'person' ? 'a person (approval, review)' : s.waitingFor === 'agent' ? 'an agent' : 'someone to start it'}</td><td>${s.idleDays} days</td></tr>`)}
      </tbody></table>`}
      ${m.signal.broken.length ? html`<h2>Changes that broke the signal</h2><table data-table="broken"><thead><tr><th>change</th><th>stage</th><th>why</th></tr></thead><tbody>
        ${m.signal.broken.slice(0, 10).map((b) => html`<tr class="row" @click=${() => send({ type: 'openChange', changeId: b.changeId })}><td>${b.title}</td><td>${b.stageId}</td><td>${b.reason}</td></tr>`)}</tbody></table>` : nothing}
      ${m.actorMismatches.length ? html`<h2>Decisions committed by someone else</h2><table data-table="mismatch"><thead><tr><th>change</th><th>event</th><th>says</th><th>committed by</th></tr></thead><tbody>
        ${m.actorMismatches.map((x) => html`<tr><td>${x.changeId}</td><td>${x.type}</td><td>${x.actor ?? '—'}</td><td class="bad">${x.committer}</td></tr>`)}</tbody></table>` : nothing}`;
  }

  private renderAutonomy(): TemplateResult {
    const a = this.report!.autonomy;
    return html`<h2>Autonomy earned from evidence</h2>
      <table data-table="autonomy"><thead><tr><th>stage</th><th>effective</th><th>why</th></tr></thead><tbody>
        ${a.stages.map((s) => html`<tr><td>${s.stageId}</td><td>${s.effective}</td><td>${s.why}</td></tr>`)}</tbody></table>
      ${a.recommendations.length === 0 ? html`<p class="muted">No recommendation: the evidence does not yet support a change.</p>` : html`<table data-table="recommendations"><thead><tr><th>stage</th><th>owner</th><th>recommendation</th><th>evidence</th><th></th></tr></thead><tbody>
        ${a.recommendations.map((r) => html`<tr><td>${r.stageId}</td><td>${r.owner}</td><td>${r.action === 'grant' ? 'grant auto-advance' : 'revoke auto-advance'}</td><td>${r.why} (interval ${pct(r.evidence.interval.low)}–${pct(r.evidence.interval.high)}, ${r.evidence.sendBacks} sent back, ${r.evidence.rollbacks} rolled back)</td>
          <td><vscode-button data-accept=${`${r.stageId}:${r.action}`} @click=${() => send({ type: 'accept', stageId: r.stageId, action: r.action, owner: r.owner })}>Accept</vscode-button></td></tr>`)}</tbody></table>`}
      <details><summary>Evidence per stage and owner</summary><table><thead><tr><th>stage</th><th>owner</th><th>last</th><th>first pass</th><th>95% interval</th><th>sent back</th><th>rolled back</th></tr></thead><tbody>
        ${a.evidence.map((e) => html`<tr><td>${e.stageId}</td><td>${e.owner}</td><td>${e.n}</td><td>${e.firstPass} (${pct(e.rate)})</td><td>${pct(e.interval.low)}–${pct(e.interval.high)}</td><td>${e.sendBacks}</td><td>${e.rollbacks}</td></tr>`)}</tbody></table></details>`;
  }

  private renderLessons(): TemplateResult {
    const lessons = this.report!.lessons.slice(0, 12);
    return html`<h2>Lessons from recorded failures</h2>
      ${lessons.length === 0 ? html`<p class="muted">No recurring failure yet.</p>` : html`<table data-table="lessons"><thead><tr><th>stage</th><th>kind</th><th>reason</th><th>seen</th><th></th></tr></thead><tbody>
        ${lessons.map((l) => html`<tr><td>${l.stageId}</td><td>${l.kind}</td><td>${l.text}</td><td>${l.count}</td><td>${l.promoted ? html`promoted to ${l.promoted.target}: ${l.promoted.before} before, ${l.promoted.after} after` : html`<vscode-button data-promote=${l.id} secondary @click=${() => send({ type: 'promoteLesson', lessonId: l.id })}>Promote</vscode-button>`}</td></tr>`)}</tbody></table>`}`;
  }

  /** Heights of the rows not drawn above and below the window. */
  private spacers = { top: 0, bottom: 0 };

  // Set through the CSSOM after each render: a style attribute (as Lit's styleMap writes on
  // first render) would need 'unsafe-inline' under the webview's CSP.
  protected override updated(): void {
    const top = this.renderRoot.querySelector<HTMLElement>('tr.spacer.top');
    const bottom = this.renderRoot.querySelector<HTMLElement>('tr.spacer.bottom');
    if (top) top.style.height = `${this.spacers.top}px`;
    if (bottom) bottom.style.height = `${this.spacers.bottom}px`;
  }

  /** Opens a change's review: from the working folder, or from the branch it was read from. */
  private open(row: ChangeRow): void {
    const ref = row.local ? undefined : row.branches.find((b) => !b.startsWith('('));
    send({ type: 'openChange', changeId: row.id, ...(ref ? { ref } : {}) });
  }

  private sortedRows(): ChangeRow[] {
    const q = this.query.trim().toLowerCase();
    const rows = q ? this.report!.metrics.rows.filter((r) => `${r.title} ${r.id} ${r.ticket ?? ''} ${r.branch ?? ''} ${r.author ?? ''} ${r.stage ?? ''} ${r.state}`.toLowerCase().includes(q)) : [...this.report!.metrics.rows];
    const k = this.sortKey;
    const dir = this.sortDesc ? -1 : 1;
    return rows.sort((a, b) => {
      const x = a[k];
      const y = b[k];
      if (x === y) return 0;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
  }

  private renderTable(): TemplateResult {
    const rows = this.sortedRows();
    const visible = Math.ceil(420 / ROW) + 10;
    const start = Math.max(0, Math.floor(this.scrolled / ROW) - 5);
    const slice = rows.slice(start, start + visible);
    this.spacers = { top: start * ROW, bottom: Math.max(0, rows.length - start - slice.length) * ROW };
    const cols: [SortKey, string][] = [['title', 'change'], ['state', 'state'], ['stage', 'stage'], ['branch', 'branch'], ['author', 'author'], ['createdAt', 'started'], ['lastEventAt', 'last event'], ['leadTimeMs', 'lead time'], ['attempts', 'attempts'], ['costUsd', 'cost'], ['signal', 'signal']];
    const date = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toLocaleDateString(undefined, { timeZone: this.timeZone }));
    return html`<div class="filters"><input type="search" placeholder="Filter changes" aria-label="Filter changes" .value=${this.query} @input=${(e: Event) => {
      this.query = (e.target as HTMLInputElement).value;
      this.scrolled = 0;
    }} /><span class="muted" data-rows=${rows.length}>${rows.length} of ${this.report!.metrics.rows.length}</span></div>
    <div class="scroll" @scroll=${(e: Event) => (this.scrolled = (e.target as HTMLElement).scrollTop)}>
      <table data-table="changes"><thead><tr>${cols.map(([k, l]) => html`<th data-sort=${k} @click=${() => {
        if (this.sortKey === k) this.sortDesc = !this.sortDesc;
        else {
          this.sortKey = k;
          this.sortDesc = false;
        }
      }}>${l}${this.sortKey === k ? (this.sortDesc ? ' ▼' : ' ▲') : ''}</th>`)}</tr></thead>
      <tbody>
        <tr class="spacer top"></tr>
        ${slice.map((r) => html`<tr class="row" tabindex="0" data-change=${r.id} @click=${() => this.open(r)} @keydown=${(e: KeyboardEvent) => e.key === 'Enter' && this.open(r)}>
          <td title=${r.id}>${r.title}</td><td class=${`state-${r.state}`}>${r.state}</td><td>${r.stage ?? ''}</td><td>${r.branch ?? r.branches[0] ?? ''}</td><td>${r.author ?? ''}</td><td>${date(r.createdAt)}</td><td>${date(r.lastEventAt)}</td><td>${hours(r.leadTimeMs)}</td><td>${r.attempts}</td><td>${money(r.costUsd)}</td><td>${r.signal}${r.mismatches ? html` <span class="bad" title="a decision committed by someone else">⚠</span>` : nothing}</td></tr>`)}
        <tr class="spacer bottom"></tr>
      </tbody></table>
    </div>`;
  }
}

customElements.define('factory-dashboard', FactoryDashboard);
