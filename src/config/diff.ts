// Which keys differ between two configurations, named as in the TOML file (`c2s.port`, `limits.read_rate`,
// `registration.allow` for a module's table), for a reload (src/runtime/reload.ts). Lists are compared whole.
import { isDeepStrictEqual } from 'node:util';
import type { Config } from './types.js';

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (key: string): string => key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * The changed key paths, sorted: the core's, and those of the modules' tables (Config.sections). A table present
 * on one side only is walked as an empty one.
 */
export function changedKeys(before: Config, after: Config): { core: string[]; modules: string[] } {
  const core: string[] = [];
  const modules: string[] = [];
  const { sections: sectionsBefore, ...coreBefore } = before;
  const { sections: sectionsAfter, ...coreAfter } = after;
  walk(coreBefore, coreAfter, [], core, snake);
  // The modules' tables are kept as given in the file: their keys are already the file's.
  walk(sectionsBefore ?? {}, sectionsAfter ?? {}, [], modules, (k) => k);
  return { core: core.sort(), modules: modules.sort() };
}

function walk(a: unknown, b: unknown, path: readonly string[], out: string[], name: (key: string) => string): void {
  if (isDeepStrictEqual(a, b)) return;
  const tableA = isTable(a) ? a : a === undefined && isTable(b) ? {} : undefined;
  const tableB = isTable(b) ? b : b === undefined && isTable(a) ? {} : undefined;
  if (tableA !== undefined && tableB !== undefined) {
    for (const key of new Set([...Object.keys(tableA), ...Object.keys(tableB)])) walk(tableA[key], tableB[key], [...path, name(key)], out, name);
    return;
  }
  out.push(path.join('.'));
}

/** The value at a core key path (`limits.read_rate`) of a Config. */
export function coreValueAt(config: Config, keyPath: string): unknown {
  let v: unknown = config;
  for (const key of keyPath.split('.')) v = isTable(v) ? v[camel(key)] : undefined;
  return v;
}

/** Sets a core key path of a Config to `value` (undefined removes it, as an unset optional key). */
export function setCoreValue(config: Config, keyPath: string, value: unknown): void {
  const keys = keyPath.split('.').map(camel);
  let table: unknown = config;
  for (const key of keys.slice(0, -1)) table = isTable(table) ? table[key] : undefined;
  const last = keys[keys.length - 1];
  if (!isTable(table) || last === undefined) throw new Error(`setCoreValue: no table for ${keyPath}`);
  if (value === undefined) delete table[last];
  else table[last] = value;
}
