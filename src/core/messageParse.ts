// One way for every webview protocol (context panel, review) to check a message: the
// schema decides, and a refusal names the message's type, the first failing field and why.
import type * as z from 'zod';

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

export function parseMessageWith<T>(schema: z.ZodType<T>, raw: unknown, what = 'a message'): ParseResult<T> {
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const type = typeof raw === 'object' && raw !== null && typeof (raw as { type?: unknown }).type === 'string' ? `"${(raw as { type: string }).type.slice(0, 60)}"` : 'without a type';
  const where = issue?.path.length ? ` at ${issue.path.map(String).join('.')}` : '';
  return { ok: false, error: `Rejected ${what} ${type}: ${issue?.message ?? 'invalid'}${where}.` };
}
