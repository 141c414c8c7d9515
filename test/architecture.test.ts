// The boundary between the core (src/) and the protocol modules (xeps/), STYLE.md convention 4:
// - src/ never imports xeps/, except the composition root src/main.ts;
// - a module's production files import from the core only the module API (src/modules/), the
//   XML layer (src/xml/), src/jid.ts and src/errors.ts;
// - a module never imports another module's files (xeps/A importing xeps/B).
// Imports are read with the TypeScript pre-processor (static imports, `import type`, re-exports
// and dynamic `import()`), resolved relative to the importing file. The same check runs on a
// fixture tree with deliberately forbidden imports, so a check that finds nothing cannot pass
// by finding nothing.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = join(ROOT, 'test', 'fixtures', 'forbidden-import');

/** What a module may import from the core. */
const MODULE_API = [/^src\/modules\//, /^src\/xml\//, /^src\/jid\.ts$/, /^src\/errors\.ts$/];

/** Files of the composition root, allowed to import xeps/. */
const COMPOSITION_ROOT = new Set(['src/main.ts']);

/**
 * Imports that break the rules today, each allowed explicitly (file -> imported file). They move
 * with the module contract of issue #14 (item 1: a module's stores, store types and config live in
 * its folder; item 4: the module API exports the session and core store types a module sees). A new
 * violation fails the test, and so does an entry here that no longer matches an import, so the
 * list only shrinks.
 */
const KNOWN_EXCEPTIONS: ReadonlyArray<readonly [file: string, imported: string, why: string]> = [
  // The built-ins list and the docs table generator sit at the root of xeps/, not in a module:
  // the list imports every module (that is its job); the table starts a server to read the specs.
  ['xeps/table.ts', 'src/config/index.ts', 'docs tool: loads a config to start a server'],
  ['xeps/table.ts', 'src/main.ts', 'docs tool: starts a server to list the registered specs'],
  ['xeps/table.ts', 'src/observability/log.ts', 'docs tool: a silent logger for that server'],
  ['xeps/table.ts', 'src/specs.ts', 'docs tool: the core specs beside the modules\''],
];

interface Violation {
  file: string;
  imported: string;
  rule: 'core-imports-module' | 'module-imports-core-internal' | 'module-imports-module';
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const toPosix = (path: string): string => path.split(sep).join(posix.sep);

/** The repository-relative .ts file each relative import of `file` names (packages are skipped). */
function importsOf(root: string, file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const target = toPosix(relative(root, join(dirname(file), fileName))).replace(/\.js$/, '.ts');
    out.push(target);
  }
  return out;
}

/**
 * Test code in a module (its tests, test kits and its stores' contract suites) may set up servers and
 * stores through core internals (src/storage/contract/ has the fixtures for both back ends).
 */
const isTestCode = (path: string): boolean => /\.test\.ts$|\/test-kit\.ts$|\.contract\.ts$/.test(path);

/** The module folder of a path under xeps/ ("0045-muc"), or undefined at the xeps/ root. */
function moduleOf(path: string): string | undefined {
  const parts = path.split('/');
  return parts[0] === 'xeps' && parts.length > 2 ? parts[1] : undefined;
}

export function checkBoundaries(root: string): Violation[] {
  const violations: Violation[] = [];
  const files = ['src', 'xeps'].flatMap((top) => listTs(join(root, top)));
  for (const abs of files) {
    const file = toPosix(relative(root, abs));
    for (const imported of importsOf(root, abs)) {
      if (file.startsWith('src/')) {
        if (imported.startsWith('xeps/') && !COMPOSITION_ROOT.has(file)) violations.push({ file, imported, rule: 'core-imports-module' });
        continue;
      }
      const own = moduleOf(file);
      const target = moduleOf(imported);
      if (target !== undefined && own !== undefined && target !== own) violations.push({ file, imported, rule: 'module-imports-module' });
      if (imported.startsWith('src/') && !isTestCode(file) && !MODULE_API.some((allowed) => allowed.test(imported))) {
        violations.push({ file, imported, rule: 'module-imports-core-internal' });
      }
    }
  }
  return violations;
}

const known = (v: Violation): boolean => KNOWN_EXCEPTIONS.some(([file, imported]) => file === v.file && imported === v.imported);

describe('architecture: the core/module boundary', () => {
  it('finds every forbidden import in the fixture tree, and passes its allowed ones', () => {
    const found = checkBoundaries(FIXTURE).map((v) => `${v.rule} ${v.file} -> ${v.imported}`).sort();
    assert.deepEqual(found, [
      'core-imports-module src/router.ts -> xeps/0001-alpha/index.ts',
      'module-imports-core-internal xeps/0001-alpha/index.ts -> src/storage/types.ts',
      'module-imports-core-internal xeps/0001-alpha/lazy.ts -> src/router.ts',
      'module-imports-module xeps/0001-alpha/index.ts -> xeps/0002-beta/helpers.ts',
    ]);
  });

  it('src/ imports xeps/ only from the composition root, and modules keep to the module API', () => {
    const unexpected = checkBoundaries(ROOT).filter((v) => !known(v)).map((v) => `${v.rule}: ${v.file} imports ${v.imported}`);
    assert.deepEqual(unexpected, [], 'forbidden imports (STYLE.md convention 4)');
  });

  it('every allow-listed exception still exists (the list only shrinks)', () => {
    const violations = checkBoundaries(ROOT);
    const stale = KNOWN_EXCEPTIONS.filter(([file, imported]) => !violations.some((v) => v.file === file && v.imported === imported));
    assert.deepEqual(stale.map(([file, imported]) => `${file} -> ${imported}`), []);
  });
});
