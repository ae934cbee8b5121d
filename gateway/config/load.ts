import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { CONFIG_FILES, type Config } from './schema.js';
import { didYouMean, formatPath, knownKeysAt, type ConfigProblem } from './problems.js';
import { resolvePaths } from './resolve.js';
import { crossCheck } from './cross-check.js';
import { keyPosition, locate, type ParsedFile } from './yaml-position.js';

type FileKey = keyof typeof CONFIG_FILES;

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

/**
 * Load and validate every config file in `dir`. Collects every problem (YAML syntax, schema,
 * cross-file references, secret references) before returning, so an admin fixes them in one pass.
 */
export function loadConfig(dir: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const absDir = resolve(dir);
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Record<FileKey, unknown>> = {};
  const files: Partial<Record<FileKey, ParsedFile>> = {};

  for (const key of Object.keys(CONFIG_FILES) as FileKey[]) {
    const { file, schema } = CONFIG_FILES[key];
    const path = join(absDir, file);
    const rel = relative(process.cwd(), path);
    const shown = rel && !rel.startsWith('..') ? rel : path;
    if (!existsSync(path)) {
      problems.push({ file: shown, line: 1, col: 1, path: '', message: 'file is missing', fix: `create ${file} (see config/ in the repository for an example)` });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    files[key] = { shown, doc, lines };
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const pos = lines.linePos(err.pos[0]);
        problems.push({ file: shown, line: pos.line, col: pos.col, path: '', message: `YAML syntax: ${err.code.toLowerCase().replace(/_/g, ' ')}`, fix: 'correct the indentation or quoting at this position' });
      }
      continue;
    }
    const data: unknown = doc.toJS() ?? {};
    const result = schema.safeParse(data);
    if (result.success) parsed[key] = result.data;
    else problems.push(...result.error.issues.flatMap((issue) => locateIssue(issue, schema, data, files[key] as ParsedFile)));
  }

  if (problems.length > 0) return { ok: false, problems };
  const config = {
    dir: absDir,
    gateway: parsed.gateway,
    participants: (parsed.participants as { participants: Config['participants'] }).participants,
    feeds: (parsed.feeds as { feeds: Config['feeds'] }).feeds,
    routes: (parsed.routes as { routes: Config['routes'] }).routes,
  } as Config;
  problems.push(...crossCheck(config, files as Record<FileKey, ParsedFile>, env));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: deepFreeze(resolvePaths(config)) };
}

function locateIssue(issue: z.core.$ZodIssue, schema: z.ZodType, data: unknown, file: ParsedFile): ConfigProblem[] {
  const base = { file: file.shown, path: formatPath(issue.path) };
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(schema, issue.path, data);
    return issue.keys.map((key) => {
      const guess = didYouMean(key, known);
      return {
        ...base, ...keyPosition(file, issue.path, key),
        path: formatPath([...issue.path, key]),
        message: 'unknown key',
        fix: guess ? `did you mean \`${guess}\`?` : `remove it; known keys here: ${known.join(', ') || '(none)'}`,
      };
    });
  }
  return [{ ...base, ...locate(file, issue.path), ...explain(issue, valueAt(data, issue.path)) }];
}

function explain(issue: z.core.$ZodIssue, value: unknown): { message: string; fix?: string } {
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined
        ? { message: `is required (expected ${issue.expected})`, fix: 'add this key' }
        : { message: `expected ${issue.expected}, got ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value}`, fix: `write a ${issue.expected}${issue.expected === 'number' ? ' without quotes' : ''}` };
    case 'invalid_value':
      return { message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`, fix: 'use one of the listed values' };
    case 'invalid_union':
      return 'options' in issue && Array.isArray(issue.options)
        ? { message: `expected one of ${(issue.options as unknown[]).map((v) => JSON.stringify(v)).join(' | ')}`, fix: 'use one of the listed values' }
        : { message: issue.message, fix: 'check the value against the documentation in config/' };
    case 'too_small':
    case 'too_big':
      return { message: issue.message.replace(/^Too (small|big): /, ''), fix: 'use a value within the allowed range' };
    default: {
      const [message, fix] = issue.message.split(' — fix: ');
      return fix ? { message: message ?? issue.message, fix } : { message: issue.message };
    }
  }
}

/** The parsed value at a schema path (for describing what was found, never for echoing it). */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const seg of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  return v;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
