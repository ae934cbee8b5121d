import type { Issue } from '../../gateway/core/issues.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A FHIR JSON body read from bytes, or why it is not one. */
export type ParsedJson = {
  ok: true;
  value: unknown;
  text: string;
  /** For a Bundle: where each `entry[n].resource` is in `text` ([start, end) by entry index). */
  entrySpans: ReadonlyMap<number, readonly [number, number]>;
} | { ok: false; issues: Issue[] };

/**
 * Reads a FHIR JSON body: strict UTF-8, JSON syntax, and no property twice in one object (JSON.parse
 * keeps the last one silently, so a second `"active"` would change the record unseen). Syntax
 * errors are located by line and column; the parser's own message is never passed on, since V8
 * quotes the text around the error.
 * @param body - the request body as received
 */
export function parseFhirJson(body: Uint8Array): ParsedJson {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return fail('the body is not valid UTF-8 (FHIR JSON is UTF-8)');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec(err instanceof Error ? err.message : '');
    return fail(at ? `the body is not JSON: syntax error at ${lineColumn(text, Number(at[1]))}` : 'the body is not JSON: syntax error');
  }
  const root = isObject(value) && typeof value.resourceType === 'string' && /^[A-Za-z]{1,64}$/.test(value.resourceType) ? value.resourceType : '$';
  const { duplicates, entrySpans } = scan(text, root);
  if (duplicates.length > 0) {
    return { ok: false, issues: duplicates.map((where) => ({ severity: 'error', code: 'duplicate', where, message: 'a property appears twice in one JSON object' })) };
  }
  return { ok: true, value, text, entrySpans };
}

function fail(message: string): ParsedJson {
  return { ok: false, issues: [{ severity: 'error', code: 'structure', where: 'body', message }] };
}

function lineColumn(text: string, position: number): string {
  let line = 1;
  let column = 1;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return `line ${line} column ${column}`;
}

interface Frame { keys?: Set<string>; index: number; path: string; start: number }

const ENTRY_RESOURCE = /^Bundle\.entry\[(\d+)\]\.resource$/;

/**
 * Paths of properties that repeat within their object, and where a Bundle's entry resources are
 * (a batch stores each entry's bytes as sent). `text` is already known to be valid JSON, so this
 * scanner only tracks strings, nesting and keys.
 */
function scan(text: string, root: string): { duplicates: string[]; entrySpans: Map<number, [number, number]> } {
  const found: string[] = [];
  const entrySpans = new Map<number, [number, number]>();
  const stack: Frame[] = [];
  let pendingKey: string | undefined;
  let expectKey = false;
  const childPath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    return top.keys ? `${top.path}.${pendingKey ?? ''}` : `${top.path}[${top.index}]`;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // "
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.keys.has(key)) found.push(`${top.path}.${key}`);
        top.keys.add(key);
        pendingKey = key;
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) { // { [
      const path = childPath();
      stack.push(c === 0x7b ? { keys: new Set(), index: 0, path, start: i } : { index: 0, path, start: i });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) { // } ]
      const closed = stack.pop();
      const entry = root === 'Bundle' && closed ? ENTRY_RESOURCE.exec(closed.path) : null;
      if (entry && closed) entrySpans.set(Number(entry[1]), [closed.start, i + 1]);
    } else if (c === 0x2c) { // ,
      const top = stack[stack.length - 1];
      if (top?.keys) expectKey = true;
      else if (top) top.index++;
    }
  }
  return { duplicates: found, entrySpans };
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i;
    else i++;
  }
  return i;
}

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
