// What modules serve on the HTTP port (ctx.addHttpRoute, ModuleHttpRoutes): on a real server, a module's prefix
// answers while the module runs and is 404 once it stops; the server's own paths stay the server's; a prefix that
// is not /.../ or overlaps another module's is refused; ctx.httpPort() is the bound port.
import assert from 'node:assert/strict';
import { defineModule } from '../modules/api.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { ModuleHttpRoutes } from './http-server.js';

describe('module HTTP routes (ctx.addHttpRoute)', function () {
  let server: TestServer;
  let base = '';

  before(async function () {
    server = await startTestServer();
    base = `http://127.0.0.1:${server.ports.http}`;
  });

  after(async function () {
    await server?.stop();
  });

  it('serves a running module\'s prefix, and not after it stops', async function () {
    let port: number | undefined;
    const thing = defineModule({
      name: 'http-thing',
      specs: [],
      setup(ctx) {
        port = ctx.httpPort();
        ctx.addHttpRoute('/thing/', (req, res) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(`thing ${req.url ?? ''}`);
        });
        // Under a server path: the server's own route answers first.
        ctx.addHttpRoute('/converse/thing/', (_req, res) => {
          res.writeHead(418);
          res.end();
        });
      },
    });
    assert.equal((await fetch(`${base}/thing/a`)).status, 404, 'control: nothing there before');
    await server.server.modules.start(thing);
    assert.equal(port, server.ports.http);
    const answer = await fetch(`${base}/thing/a?b=c`);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), 'thing /thing/a?b=c');
    assert.notEqual((await fetch(`${base}/converse/thing/x`)).status, 418);
    await server.server.modules.stop('http-thing');
    assert.equal((await fetch(`${base}/thing/a`)).status, 404);
  });

  it('refuses prefixes that are not /.../ or that overlap another module\'s', function () {
    const routes = new ModuleHttpRoutes();
    const handler = (): void => undefined;
    for (const bad of ['/', 'thing/', '/thing', '/a?b/']) assert.throws(() => routes.add(bad, handler), /starts and ends with/, bad);
    const undo = routes.add('/a/', handler);
    assert.throws(() => routes.add('/a/b/', handler), /overlaps \/a\//);
    assert.throws(() => routes.add('/', handler));
    assert.equal(routes.find('/a/x'), handler);
    assert.equal(routes.find('/ab'), undefined);
    undo();
    assert.equal(routes.find('/a/x'), undefined);
    routes.add('/a/b/', handler);
  });
});
