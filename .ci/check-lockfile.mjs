#!/usr/bin/env node
// Fails when `npm install` would change package-lock.json, naming each package that would change.
// Usage: .ci/check-lockfile.mjs [dir]   (dir holds package.json and package-lock.json; default: the repository)
// It runs `npm install --package-lock-only --ignore-scripts` on a copy in a temporary directory, so the
// checked tree and its node_modules are never touched, and compares the lock file npm writes with the one given.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
const lockPath = join(dir, 'package-lock.json');
if (!existsSync(lockPath)) {
  console.error(`check-lockfile: ${lockPath} is missing; run npm install and commit it`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'ratatosk-lockcheck-'));
let after;
try {
  for (const file of ['package.json', 'package-lock.json', '.npmrc']) if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(work, file));
  try {
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    console.error(`check-lockfile: npm install --package-lock-only failed:\n${err.stderr?.toString() ?? err.message}`);
    process.exit(1);
  }
  after = readFileSync(join(work, 'package-lock.json'), 'utf8');
} finally {
  rmSync(work, { recursive: true, force: true });
}

const beforeText = readFileSync(lockPath, 'utf8');
if (after === beforeText) {
  console.log('check-lockfile: package-lock.json is in sync with package.json (npm install would not change it)');
  process.exit(0);
}

/** What differs between two lock files, one line per package. */
function differences(before, afterLock) {
  const lines = [];
  const a = before.packages ?? {};
  const b = afterLock.packages ?? {};
  const name = (key) => (key === '' ? '(root package.json)' : key.replace(/^(.*\/)?node_modules\//, ''));
  const fields = ['version', 'resolved', 'integrity', 'dev', 'optional', 'devOptional', 'peer', 'dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies'];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!(key in a)) lines.push(`+ ${name(key)}${b[key].version ? `@${b[key].version}` : ''} would be added (${key})`);
    else if (!(key in b)) lines.push(`- ${name(key)}${a[key].version ? `@${a[key].version}` : ''} would be removed (${key})`);
    else {
      const changed = fields.filter((f) => JSON.stringify(a[key][f]) !== JSON.stringify(b[key][f]));
      if (key === '') {
        for (const group of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
          const x = a[key][group] ?? {};
          const y = b[key][group] ?? {};
          for (const dep of new Set([...Object.keys(x), ...Object.keys(y)])) {
            if (x[dep] !== y[dep]) lines.push(`~ ${dep}: ${group} in package.json says ${y[dep] ?? '(absent)'}, the lock file ${x[dep] ?? '(absent)'}`);
          }
        }
        const other = changed.filter((f) => !f.endsWith('ependencies'));
        if (other.length > 0) lines.push(`~ root package entry: ${other.join(', ')} would change`);
      } else if (changed.length > 0) {
        lines.push(`~ ${name(key)}: ${changed.map((f) => `${f} ${JSON.stringify(a[key][f])} -> ${JSON.stringify(b[key][f])}`).join(', ')} (${key})`);
      }
    }
  }
  for (const field of ['name', 'version', 'lockfileVersion']) {
    if (before[field] !== afterLock[field]) lines.push(`~ ${field}: ${before[field]} -> ${afterLock[field]}`);
  }
  return lines;
}

const lines = differences(JSON.parse(beforeText), JSON.parse(after));
console.error('check-lockfile: package-lock.json is out of sync with package.json: npm install would change it.');
for (const line of lines.length > 0 ? lines : ['(formatting only)']) console.error(`  ${line}`);
console.error('Run `npm install`, check the change, and commit package-lock.json with package.json.');
process.exit(1);
