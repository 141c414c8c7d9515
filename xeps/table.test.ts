import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { BUILTIN_MODULES } from './index.js';
import { renderReadme, renderSpecTable, TABLE_END, TABLE_START } from './table.js';

describe('supported specifications table', function () {
  it('in README.md matches the modules\' metadata (run `npm run docs:xeps` after changing a module)', async function () {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    assert.equal(readme, await renderReadme(readme));
  });

  it('lists every spec of every built-in module', function () {
    const table = renderSpecTable();
    for (const m of BUILTIN_MODULES) for (const s of m.specs) assert.ok(table.includes(`| ${s.id} |`), `${s.id} missing`);
    assert.ok(TABLE_START && TABLE_END);
  });
});
