// Renders a context pack for an agent: markdown with a section per kind and every
// item's content fenced, labelled with its path and range. Within a token budget,
// items are cut in reverse priority (pinned items last) and every cut item is listed
// in the text and returned: nothing is dropped silently.
import type { ContextItem } from './contextPack';
import { estimateTokens, formatRange, itemLabel, packVersion } from './contextPack';

const SECTIONS: { kind: string; title: string }[] = [
  { kind: 'ticket', title: 'Ticket' },
  { kind: 'reviewFeedback', title: 'Review feedback' },
  { kind: 'convention', title: 'Project conventions' },
  { kind: 'file', title: 'Files' },
  { kind: 'selection', title: 'Selections' },
  { kind: 'folder', title: 'Folders' },
  { kind: 'stageOutput', title: 'Stage outputs' },
  { kind: 'note', title: 'Notes' },
  { kind: 'lesson', title: 'Lessons' },
];
const OTHER_SECTION = 'Other';

export interface RenderOptions {
  /** The most tokens (estimated, see estimateTokens) the text may take; no limit when absent. */
  budgetTokens?: number;
  /** The pack version named in the header; computed from the items when absent. */
  version?: string;
  /** The first heading; "Context pack" by default. */
  heading?: string;
}

export interface CutItem {
  itemId: string;
  label: string;
  kind: string;
  tokens: number;
  pinned: boolean;
  reason: string;
}

export interface RenderedContext {
  text: string;
  /** Ids of the items in the text, in the order they appear. */
  included: string[];
  cut: CutItem[];
  /** Estimated tokens of `text`. */
  tokens: number;
  /** False only when even the headings and the list of cut items exceed the budget. */
  withinBudget: boolean;
}

/**
 * `contents` gives each item's content (loaded from the content store); an item
 * without one is cut with that reason rather than rendered empty.
 */
export function renderContextPack(items: readonly ContextItem[], contents: ReadonlyMap<string, string>, options: RenderOptions = {}): RenderedContext {
  const version = options.version ?? packVersion(items);
  const heading = options.heading ?? 'Context pack';
  const budget = options.budgetTokens ?? Number.POSITIVE_INFINITY;
  const blocks = new Map<string, string>();
  const cut: CutItem[] = [];
  const cutItem = (item: ContextItem, reason: string, tokens: number) =>
    cut.push({ itemId: item.id, label: itemLabel(item), kind: item.kind, tokens, pinned: item.pinned, reason });

  // Priority: pinned items first, then the rest, each in pack order (the user orders by importance).
  const priority = [...items.filter((item) => item.pinned), ...items.filter((item) => !item.pinned)];
  let remaining = budget - estimateTokens(compose(heading, version, items, new Map(), []));
  const included: ContextItem[] = [];
  for (const item of priority) {
    const content = contents.get(item.id);
    if (content === undefined) {
      cutItem(item, 'content not available in the content store', item.tokens);
      continue;
    }
    const block = renderItem(item, content);
    const cost = estimateTokens(block);
    if (cost > remaining) {
      cutItem(item, `over the token budget: needs ~${cost} tokens, ~${Math.max(0, Math.floor(remaining))} left`, cost);
      continue;
    }
    blocks.set(item.id, block);
    included.push(item);
    remaining -= cost;
  }

  let text = compose(heading, version, items, blocks, cut);
  // The list of cut items takes room too: make it by cutting the lowest-priority included item.
  while (estimateTokens(text) > budget && included.length > 0) {
    const last = included.pop()!;
    const cost = estimateTokens(blocks.get(last.id)!);
    blocks.delete(last.id);
    cutItem(last, `over the token budget: its ~${cost} tokens made room for the list of left-out items`, cost);
    text = compose(heading, version, items, blocks, cut);
  }
  const inTextOrder = sectionsOf(items).flatMap((section) => section.items.filter((item) => blocks.has(item.id)).map((item) => item.id));
  const tokens = estimateTokens(text);
  return { text, included: inTextOrder, cut, tokens, withinBudget: tokens <= budget };
}

function sectionsOf(items: readonly ContextItem[]): { title: string; items: ContextItem[] }[] {
  const known = new Set(SECTIONS.map((s) => s.kind));
  const sections = SECTIONS.map((s) => ({ title: s.title, items: items.filter((item) => item.kind === s.kind) }));
  sections.push({ title: OTHER_SECTION, items: items.filter((item) => !known.has(item.kind)) });
  return sections.filter((s) => s.items.length > 0);
}

function compose(heading: string, version: string, items: readonly ContextItem[], blocks: ReadonlyMap<string, string>, cut: readonly CutItem[]): string {
  const parts = [`# ${heading}`, '', `Version \`${version}\`, ${blocks.size} of ${items.length} items.`, ''];
  for (const section of sectionsOf(items)) {
    const rendered = section.items.filter((item) => blocks.has(item.id));
    if (rendered.length === 0) continue;
    parts.push(`## ${section.title}`, '');
    for (const item of rendered) parts.push(blocks.get(item.id)!, '');
  }
  if (cut.length > 0) {
    parts.push('## Left out', '', 'These items are in the pack but not in this text:', '');
    for (const c of cut) parts.push(`- ${c.label} (${c.kind}${c.pinned ? ', pinned' : ''}, ~${c.tokens} tokens): ${c.reason}`);
    parts.push('');
  }
  return parts.join('\n');
}

function renderItem(item: ContextItem, content: string): string {
  const where = item.source.path ? `\`${singleLine(item.source.path)}\`${item.source.range ? ` (${describeRange(item)})` : ''}` : '';
  let title: string;
  switch (item.kind) {
    case 'file':
    case 'convention':
      title = where || singleLine(itemLabel(item));
      break;
    case 'selection':
      title = `Selection in ${where}`;
      break;
    case 'folder':
      title = `${where} (listing)`;
      break;
    case 'stageOutput':
      title = `${item.source.stageId ? `From stage ${singleLine(item.source.stageId)}: ` : ''}${where || singleLine(itemLabel(item))}`;
      break;
    default:
      title = singleLine(itemLabel(item));
  }
  const pin = item.pinned ? ' (pinned)' : '';
  return `### ${title}${pin}\n\n${fence(content, infoString(item))}`;
}

function describeRange(item: ContextItem): string {
  const range = item.source.range!;
  return range.startLine === range.endLine && range.startCharacter === undefined ? `line ${range.startLine}` : `lines ${range.startLine}–${range.endLine}, ${formatRange(range)}`;
}

function singleLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A fence longer than any backtick run in the content, so content can never close it (CommonMark). */
export function fence(content: string, info = ''): string {
  const longestRun = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = '`'.repeat(Math.max(3, longestRun + 1));
  return `${ticks}${info}\n${content}${content.endsWith('\n') ? '' : '\n'}${ticks}`;
}

function infoString(item: ContextItem): string {
  if (item.kind === 'folder') return 'text';
  if (item.kind === 'note' || item.kind === 'ticket' || item.kind === 'lesson' || item.kind === 'reviewFeedback') return 'markdown';
  const ext = /\.([A-Za-z0-9]+)$/.exec(item.source.path ?? '')?.[1]?.toLowerCase();
  if (!ext) return 'text';
  return EXTENSION_LANGUAGES[ext] ?? ext;
}

const EXTENSION_LANGUAGES: Record<string, string> = { md: 'markdown', mdc: 'markdown', yml: 'yaml', txt: 'text', mjs: 'js', cjs: 'js', mts: 'ts', cts: 'ts' };
