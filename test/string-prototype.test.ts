// String.prototype stays in V8's fast mode in a running server (src/runtime/fast-string-prototype.ts): otherwise
// every string method call in optimised code (the tokenizer's s.charCodeAt, s.indexOf) goes through a generic
// load IC. Checked with V8's own %HasFastProperties in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('String.prototype in a running server', function () {
  this.timeout(60_000);

  it('is fast after startServer, although a class that extends String made it slow', async () => {
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', 'test/fixtures/string-prototype-child.ts'], { cwd: ROOT, timeout: 50_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
    const seen = JSON.parse(output.trim().split('\n').pop() ?? '{}') as Record<string, boolean>;
    // The control: a subclass of String makes String.prototype slow, and the check sees it.
    assert.equal(seen.beforeStart, false, output);
    assert.equal(seen.afterStart, true, output);
    // Once fast, it stays fast when another module subclasses String later.
    assert.equal(seen.afterAnotherSubclass, true, output);
    assert.equal(seen.afterRestore, true, output);
  });
});
