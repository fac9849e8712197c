// A change's review as a document to keep or share: Markdown (for a pull request's
// description or a comment) and one self-contained HTML file (timeline, steps,
// decisions, comments, evidence hashes with their integrity, screenshots embedded as
// data: URIs; no script, no network: its own CSP allows its one style block, by hash,
// and data: images only). Every piece of evidence is re-hashed before it is listed or embedded.
// The editor's review panel and the CLI's `review export` call this.
import { createHash } from 'node:crypto';
import type { AttemptStep, ReviewEvidence, ReviewModel, ReviewStep, StageStep, TimelineEntry } from '../core/review';
import { reviewEvidence, totalsWords } from '../core/review';
import type { ReviewService, ReviewSession } from './review';

export type ExportFormat = 'md' | 'html';

export async function exportReview(review: ReviewService, session: ReviewSession, format: ExportFormat, options: { now?: Date } = {}): Promise<string> {
  await review.checkIntegrity(session);
  await review.reportFailures(session);
  const now = options.now ?? new Date();
  if (format === 'md') return markdown(session.model, now);
  const images = new Map<string, string>();
  for (const e of reviewEvidence(session.model)) {
    if (e.integrity !== 'verified' || images.has(e.ref.sha256) || !/^image\/(png|jpeg|gif|webp)$/.test(e.ref.mediaType ?? '')) continue;
    try {
      const { bytes } = await review.evidenceBytes(session, e.ref.sha256);
      images.set(e.ref.sha256, `data:${e.ref.mediaType};base64,${bytes.toString('base64')}`);
    } catch {
      // Shown as altered or missing in the evidence table.
    }
  }
  return html(session.model, now, images);
}

// ---------------------------------------------------------------------------------
// Markdown

/** Untrusted text as Markdown text: no markup, links, images or HTML from it; one line. */
function md(text: unknown): string {
  return String(text ?? '')
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_{}[\]()#+\-.!<>|~&$]/g, '\\$&');
}

function mdBlock(text: string): string {
  // A fenced block longer than any backtick run inside it.
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

const money = (usd: number | undefined) => (usd === undefined ? '—' : `$${usd.toFixed(usd < 0.01 ? 4 : 2)}`);
const duration = (ms: number | undefined) => (ms === undefined ? '—' : ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m ${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`);
const short = (hash: string | undefined) => (hash ? hash.slice(0, 10) : '—');
const integrityWord: Record<ReviewEvidence['integrity'], string> = { verified: '✔ verified', altered: '✘ ALTERED', missing: '✘ missing', unchecked: '? unchecked' };

function actorCell(t: { actor: string; committedBy?: { name: string } }): string {
  return `${t.actor}${t.committedBy && t.committedBy.name !== t.actor ? ` (committed by ${t.committedBy.name})` : ''}`;
}

function markdown(model: ReviewModel, now: Date): string {
  const out: string[] = [];
  out.push(`# Review: ${md(model.title)}${model.ticket ? ` (${md(model.ticket)})` : ''}`);
  out.push('');
  out.push(`Change \`${model.changeId}\` · read from ${md(model.source)}${model.branch ? ` · branch ${md(model.branch)}` : ''} · ${model.totals.attempts} attempts · ${money(model.totals.costUsd)} · ${duration(model.totals.durationMs)} of agent time · ${model.totals.verifications} verification runs (${model.totals.failedVerifications} failed) · exported ${now.toISOString()}`);
  if (model.description) out.push('', md(model.description));
  out.push('', '## Stages', '');
  out.push('| Stage | Status | Context | Approval |', '|---|---|---|---|');
  for (const s of model.steps.filter((x): x is StageStep => x.kind === 'stage')) {
    out.push(`| ${md(s.stageTitle)} | ${md(s.status)} | ${s.context ? md(s.context.sentence) : '—'} | ${s.approved ? (s.approvalStale ? 'approved, **stale** (edited since)' : `approved at ${short(s.approvedTree)}`) : '—'} |`);
  }
  out.push('', '## Timeline', '', '| When | What | Who | Duration | Cost | Commit / tree |', '|---|---|---|---|---|---|');
  for (const t of model.timeline) out.push(timelineRowMd(t));
  out.push('', '## Steps');
  for (const step of model.steps) out.push('', ...stepMd(step));
  const decisions = model.steps.flatMap((s) => (s.kind === 'stage' ? s.decisions : []));
  out.push('', '## Decisions', '');
  if (decisions.length === 0 && model.hunks.length === 0) out.push('None recorded.');
  for (const d of decisions) out.push(`- ${d.at} — ${md(d.by?.name ?? 'unknown')}: ${d.kind === 'approved' ? `approved ${md(d.stageId)}${d.tree ? ` at tree ${short(d.tree)}` : ''}` : `sent back from ${md(d.stageId)} to ${md(d.toStage ?? d.stageId)}`}${d.note ? ` — “${md(d.note)}”` : ''}`);
  for (const h of model.hunks) out.push(`- ${h.at} — ${md(h.by?.name ?? 'unknown')}: hunk ${md(h.decision)} in ${md(h.path)} ${md(h.header ?? '')} (hunk ${short(h.hunk)})`);
  out.push('', '## Comments', '');
  if (model.comments.length === 0) out.push('None.');
  for (const c of model.comments) out.push(`- ${c.at} — ${md(c.by?.name ?? 'unknown')}${c.path ? ` on ${md(c.path)}${c.line ? `:${c.line}` : ''}` : c.attemptId ? ' on an attempt' : c.stageId ? ` on ${md(c.stageId)}` : ''}: ${md(c.body)}`);
  out.push('', '## Evidence', '', '| Evidence | sha256 | Integrity |', '|---|---|---|');
  for (const e of unique(reviewEvidence(model))) out.push(`| ${md(e.ref.name)} | \`${e.ref.sha256}\` | ${integrityWord[e.integrity]} |`);
  return out.join('\n') + '\n';
}

function timelineRowMd(t: TimelineEntry): string {
  return `| ${t.at} | ${md(t.text)} | ${md(actorCell(t))} | ${duration(t.durationMs)} | ${money(t.costUsd)} | ${t.commit ? short(t.commit) : ''}${t.tree ? ` / ${short(t.tree)}` : ''} |`;
}

function stepMd(step: ReviewStep): string[] {
  const out: string[] = [];
  if (step.kind === 'stage') {
    out.push(`### ${md(step.heading)} — ${md(step.status)}`);
    out.push(`Owner: ${md(step.owner)}.${step.handedIn ? ` Handed in from ${md(step.handedIn.from)} with context v${step.handedIn.number ?? '?'}.` : ''}${step.handedOn ? ` Handed on${step.handedOn.to ? ` to ${md(step.handedOn.to)}` : ''} with context v${step.handedOn.number ?? '?'} at tree ${short(step.handedOn.tree)}.` : ''}`);
    if (step.context) out.push('', `Signal: ${md(step.context.sentence)}.`);
    return out;
  }
  const a: AttemptStep = step;
  out.push(`#### ${md(a.heading)}`);
  out.push(`${md(a.actor)}${a.by ? `, started by ${md(a.by.name)}` : ''}${a.committedBy ? ` (event committed by ${md(a.committedBy.name)})` : ''} · ${md(a.outcome ?? 'not finished')}${a.reason ? `: ${md(a.reason)}` : ''} · ${duration(a.durationMs)} · ${money(a.costUsd)} · tree ${short(a.startTree)} → ${short(a.endTree)}`);
  out.push('', `Context: ${md(a.context.sentence)}.`);
  if (a.packChange && (a.packChange.added.length || a.packChange.removed.length || a.packChange.changed.length)) {
    out.push(`Pack since the previous stage (v${a.packChange.from ?? '?'} → v${a.packChange.to ?? '?'}): ${[...a.packChange.added.map((x) => `+${md(x)}`), ...a.packChange.removed.map((x) => `−${md(x)}`), ...a.packChange.changed.map((x) => `~${md(x)}`)].join(', ')}.`);
  }
  if (a.changedFiles.length) out.push(`Files changed: ${a.changedFiles.map((f) => `${md(f.path)} (${md(f.status)})`).join(', ')}.`);
  if (a.filesRead.length) out.push(`Files read: ${a.filesRead.map(md).join(', ')}.`);
  for (const v of a.verifications) {
    out.push(`- Verification ${md(v.criterionId)}: ${md(v.outcome)}${v.totals ? ` (${totalsWords(v.totals)})` : ''}${v.message ? ` — ${md(v.message)}` : ''}${v.evidence.length ? ` · evidence ${v.evidence.map((e) => `${md(e.ref.name)} ${integrityWord[e.integrity]}`).join(', ')}` : ''}`);
    for (const f of v.failures ?? []) out.push(`  - ✘ ${md(f)}`);
  }
  if (a.prompt !== undefined) out.push('', '<details><summary>Prompt</summary>', '', mdBlock(a.prompt), '', '</details>');
  return out;
}

function unique(list: ReviewEvidence[]): ReviewEvidence[] {
  const seen = new Map<string, ReviewEvidence>();
  for (const e of list) if (!seen.has(e.ref.sha256)) seen.set(e.ref.sha256, e);
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------
// HTML

function h(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body{font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;background:#f6f8fa;padding:8px;border-radius:4px;max-height:30em;overflow:auto}
.bad{color:#cf222e;font-weight:600}.good{color:#1a7f37}.muted{color:#57606a}.step{border:1px solid #d0d7de;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.attempt{margin-left:1.5rem}img{max-width:100%;border:1px solid #d0d7de}
@media (prefers-color-scheme: dark){body{background:#0d1117;color:#e6edf3}th,pre{background:#161b22}th,td,.step,img{border-color:#30363d}.muted{color:#8b949e}}
`;

/** The page's one style block, allowed by its hash: no other inline style applies, whatever the record holds. */
const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

function html(model: ReviewModel, now: Date, images: Map<string, string>): string {
  const stageRows = model.steps
    .filter((x): x is StageStep => x.kind === 'stage')
    .map((s) => `<tr><td>${h(s.stageTitle)}</td><td>${h(s.status)}</td><td class="${s.context?.recreated ? 'bad' : ''}">${h(s.context?.sentence ?? '—')}</td><td class="${s.approvalStale ? 'bad' : ''}">${s.approved ? (s.approvalStale ? 'approved, stale (edited since)' : `approved at ${h(short(s.approvedTree))}`) : '—'}</td></tr>`)
    .join('');
  const timeline = model.timeline
    .map((t) => `<tr><td><time>${h(t.at)}</time></td><td>${h(t.text)}</td><td>${h(actorCell(t))}</td><td>${h(duration(t.durationMs))}</td><td>${h(money(t.costUsd))}</td><td><code>${h(t.commit ? short(t.commit) : '')}${t.tree ? ` / ${h(short(t.tree))}` : ''}</code></td></tr>`)
    .join('');
  const steps = model.steps.map((s) => stepHtml(s, images)).join('');
  const decisions = model.steps.flatMap((s) => (s.kind === 'stage' ? s.decisions : []));
  const evidence = unique(reviewEvidence(model))
    .map((e) => `<tr><td>${h(e.ref.name)}</td><td><code>${h(e.ref.sha256)}</code></td><td class="${e.integrity === 'verified' ? 'good' : 'bad'}">${h(integrityWord[e.integrity])}</td></tr>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src ${STYLE_SOURCE}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Review: ${h(model.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Review: ${h(model.title)}${model.ticket ? ` <span class="muted">(${h(model.ticket)})</span>` : ''}</h1>
<p class="muted">Change <code>${h(model.changeId)}</code> · read from ${h(model.source)}${model.branch ? ` · branch ${h(model.branch)}` : ''} · ${model.totals.attempts} attempts · ${h(money(model.totals.costUsd))} · ${h(duration(model.totals.durationMs))} of agent time · ${model.totals.verifications} verification runs (${model.totals.failedVerifications} failed) · exported ${h(now.toISOString())}</p>
${model.description ? `<p>${h(model.description)}</p>` : ''}
<h2>Stages</h2>
<table><thead><tr><th>Stage</th><th>Status</th><th>Context</th><th>Approval</th></tr></thead><tbody>${stageRows}</tbody></table>
<h2>Timeline</h2>
<table><thead><tr><th>When</th><th>What</th><th>Who</th><th>Duration</th><th>Cost</th><th>Commit / tree</th></tr></thead><tbody>${timeline}</tbody></table>
<h2>Steps</h2>
${steps}
<h2>Decisions</h2>
<ul>${decisions.map((d) => `<li>${h(d.at)} — ${h(d.by?.name ?? 'unknown')}: ${d.kind === 'approved' ? `approved ${h(d.stageId)}${d.tree ? ` at tree <code>${h(short(d.tree))}</code>` : ''}` : `sent back from ${h(d.stageId)} to ${h(d.toStage ?? d.stageId)}`}${d.note ? ` — “${h(d.note)}”` : ''}</li>`).join('')}${model.hunks.map((x) => `<li>${h(x.at)} — ${h(x.by?.name ?? 'unknown')}: hunk ${h(x.decision)} in ${h(x.path)} <code>${h(x.header ?? '')}</code></li>`).join('') || (decisions.length ? '' : '<li>None recorded.</li>')}</ul>
<h2>Comments</h2>
<ul>${model.comments.map((c) => `<li>${h(c.at)} — ${h(c.by?.name ?? 'unknown')}${c.path ? ` on ${h(c.path)}${c.line ? `:${c.line}` : ''}` : ''}: ${h(c.body)}</li>`).join('') || '<li>None.</li>'}</ul>
<h2>Evidence</h2>
<table><thead><tr><th>Evidence</th><th>sha256</th><th>Integrity</th></tr></thead><tbody>${evidence}</tbody></table>
</body>
</html>
`;
}

function stepHtml(step: ReviewStep, images: Map<string, string>): string {
  if (step.kind === 'stage') {
    return `<section class="step"><h3>${h(step.heading)} — ${h(step.status)}</h3><p>Owner: ${h(step.owner)}.${step.handedIn ? ` Handed in from ${h(step.handedIn.from)} with context v${step.handedIn.number ?? '?'}.` : ''}${step.handedOn ? ` Handed on${step.handedOn.to ? ` to ${h(step.handedOn.to)}` : ''} with context v${step.handedOn.number ?? '?'} at tree <code>${h(short(step.handedOn.tree))}</code>.` : ''}</p>${step.context ? `<p class="${step.context.recreated ? 'bad' : 'good'}">Signal: ${h(step.context.sentence)}.</p>` : ''}</section>`;
  }
  const a = step;
  const verifications = a.verifications
    .map(
      (v) =>
        `<li class="${v.outcome === 'passed' ? 'good' : 'bad'}">${h(v.criterionId)}: ${h(v.outcome)}${v.totals ? ` (${h(totalsWords(v.totals))})` : ''}${v.message ? ` — ${h(v.message)}` : ''}<ul>${(v.failures ?? []).map((f) => `<li class="bad">✘ ${h(f)}</li>`).join('')}${v.evidence.map((e) => `<li>${h(e.ref.name)} <code>${h(e.ref.sha256.slice(0, 12))}</code> ${h(integrityWord[e.integrity])}${images.has(e.ref.sha256) ? `<br><img alt="${h(e.ref.name)}" src="${images.get(e.ref.sha256)}">` : ''}</li>`).join('')}</ul></li>`,
    )
    .join('');
  return `<section class="step attempt"><h4>${h(a.heading)}</h4>
<p>${h(a.actor)}${a.by ? `, started by ${h(a.by.name)}` : ''}${a.committedBy ? ` (event committed by ${h(a.committedBy.name)})` : ''} · ${h(a.outcome ?? 'not finished')}${a.reason ? `: ${h(a.reason)}` : ''} · ${h(duration(a.durationMs))} · ${h(money(a.costUsd))} · tree <code>${h(short(a.startTree))}</code> → <code>${h(short(a.endTree))}</code></p>
<p class="${a.context.recreated ? 'bad' : 'good'}">Context: ${h(a.context.sentence)}.</p>
${a.changedFiles.length ? `<p>Files changed: ${a.changedFiles.map((f) => `<code>${h(f.path)}</code> (${h(f.status)})`).join(', ')}</p>` : ''}
${a.filesRead.length ? `<p>Files read: ${a.filesRead.map((f) => `<code>${h(f)}</code>`).join(', ')}</p>` : ''}
${verifications ? `<ul>${verifications}</ul>` : ''}
${a.prompt !== undefined ? `<details><summary>Prompt</summary><pre>${h(a.prompt)}</pre></details>` : ''}
</section>`;
}
