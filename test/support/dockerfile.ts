// Reads docker/Dockerfile and .dockerignore the way Docker does, as far as test/packaging.test.ts
// needs to replay an image build without a Docker engine: stages and their instructions (line
// continuations, comments, exec-form JSON), and the context's exclusion rules (last matching
// pattern wins, `!` lets back in, `**` crosses directories, a matched directory takes its contents).
import { existsSync } from 'node:fs';
import { cp, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** The rest of the line, continuations joined. */
  readonly args: string;
  /** The line in the Dockerfile where it starts (1-based). */
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: Instruction[];
}

/** The stages of a Dockerfile, each with its instructions after FROM. ARGs before the first FROM are dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line)) continue;
    // A trailing backslash continues the instruction; comment lines inside it are dropped, as Docker does.
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) {
        line = `${line.replace(/\\\s*$/, '')}\\`;
        continue;
      }
      line = `${line.replace(/\\\s*$/, ' ')}${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile line ${start + 1}: cannot read "${line}"`);
    const keyword = (match[1] ?? '').toUpperCase();
    const args = (match[2] ?? '').trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: cannot read FROM ${args}`);
      stages.push({ image: from[1] ?? '', name: from[2] ?? String(stages.length), instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword, args, line: start + 1 });
  }
  return stages;
}

/** The words of an exec-form instruction (["node", "bin/x.js"]); undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((w): w is string => typeof w === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed;
}

/** KEY=value pairs of ENV, LABEL or ARG (quotes removed); ARG NAME without a value maps to undefined. */
export function keyValues(args: string): Map<string, string | undefined> {
  const pairs = new Map<string, string | undefined>();
  const re = /([A-Za-z_][A-Za-z0-9_.-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?/g;
  for (const m of args.matchAll(re)) {
    const raw = m[2];
    pairs.set(m[1] ?? '', raw === undefined ? undefined : raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
  }
  return pairs;
}

export interface CopyInstruction {
  /** The stage named by --from, or undefined for the build context. */
  readonly from?: string;
  readonly sources: string[];
  readonly dest: string;
}

export function parseCopy(args: string): CopyInstruction {
  const words = execForm(args) ?? args.split(/\s+/);
  let from: string | undefined;
  const rest: string[] = [];
  for (const word of words) {
    if (word.startsWith('--from=')) from = word.slice('--from='.length);
    else if (word.startsWith('--')) throw new Error(`COPY option the replay does not know: ${word}`);
    else rest.push(word);
  }
  const dest = rest.pop();
  if (dest === undefined || rest.length === 0) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { ...(from === undefined ? {} : { from }), sources: rest, dest };
}

/**
 * Copies as COPY does: a directory's contents into the destination, a file into a destination that is
 * a directory (several sources, or a trailing slash) or to the destination path itself.
 */
export async function copyLikeDocker(sources: readonly string[], dest: string, destIsDir: boolean): Promise<void> {
  for (const source of sources) {
    if (!existsSync(source)) throw new Error(`COPY source missing: ${source}`);
    if ((await stat(source)).isDirectory()) {
      await mkdir(dest, { recursive: true });
      await cp(source, dest, { recursive: true, verbatimSymlinks: true });
    } else {
      const target = destIsDir ? join(dest, basename(source)) : dest;
      await mkdir(dirname(target), { recursive: true });
      await cp(source, target);
    }
  }
}

/** A .dockerignore as a predicate on context-relative paths (forward slashes). */
export function dockerignore(text: string): (path: string) => boolean {
  const rules: { exclude: boolean; re: RegExp }[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    const pattern = posix.normalize((exclude ? line : line.slice(1)).trim()).replace(/^\/+/, '').replace(/\/+$/, '');
    rules.push({ exclude, re: globToRegExp(pattern) });
  }
  return (path) => {
    const parts = path.split('/');
    // The path and each of its parent directories: a pattern that matches a directory takes its contents.
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = rule.exclude;
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
