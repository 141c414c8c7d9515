// The server's version, read once from package.json: the one place it is written. The same module
// runs from the source tree (src/version.ts, package.json one level up) and from the build
// (dist/src/version.js, two levels up), so both places are tried, and only a package.json that
// names this package counts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'ratatosk';
const CANDIDATES = ['../package.json', '../../package.json'];

/** The version in the package.json of `name` at one of `candidates` (relative to `base`). */
export function readPackageVersion(base: string | URL = import.meta.url, candidates: readonly string[] = CANDIDATES, name = PACKAGE_NAME): string {
  const tried: string[] = [];
  for (const candidate of candidates) {
    const url = new URL(candidate, base);
    tried.push(fileURLToPath(url));
    let pkg: unknown;
    try {
      pkg = JSON.parse(readFileSync(url, 'utf8'));
    } catch {
      continue;
    }
    if (typeof pkg !== 'object' || pkg === null || !('name' in pkg) || pkg.name !== name) continue;
    if ('version' in pkg && typeof pkg.version === 'string' && pkg.version !== '') return pkg.version;
    throw new Error(`${fileURLToPath(url)} has no "version"`);
  }
  throw new Error(`no package.json of ${name} found (looked at ${tried.join(', ')})`);
}

/** This server's version, e.g. "0.1.0". */
export const VERSION: string = readPackageVersion();
