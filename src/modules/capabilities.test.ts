// The narrow context (issue #14 item 4): cluster operations are a capability a module declares
// (`capabilities: ['cluster']` -> ctx.cluster); a module that does not declare it has no such member in its
// context's type (checked by tsc through the @ts-expect-error lines below) and reading it at run time is a
// start error naming the declaration; an unknown capability is refused before any module starts. The
// context shows the core settings modules read, not the storage, Redis or TLS ones.
import assert from 'node:assert/strict';
import { ServerError } from '../errors.js';
import { Element } from '../xml/element.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { defineModule, type Capability, type ModuleContext } from './api.js';

const isServerError = (code: string, pattern: RegExp) => (err: unknown): boolean => err instanceof ServerError && err.code === code && pattern.test(err.message);

describe('module capabilities (the narrow context)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('a module that declares the cluster capability gets ctx.cluster (alone, every singleton is hosted here)', async () => {
    let host: string | undefined;
    const clustered = defineModule({
      name: 'clustered',
      specs: [],
      capabilities: ['cluster'],
      async setup(ctx) {
        host = await ctx.cluster.placement.locate('room@conference.localhost');
        // On a node alone there is nobody elsewhere: a no-op, not an error.
        ctx.cluster.deliverRemote([], new Element('message'));
      },
    });
    await server.server.modules.start(clustered);
    assert.equal(host, server.config.nodeId);
    await server.server.modules.stop('clustered');
  });

  it('a module that does not declare it has no ctx.cluster: not in the type, and reading it is a start error', async () => {
    const seen: string[] = [];
    const plain = defineModule({
      name: 'plain',
      specs: [],
      setup(ctx) {
        // @ts-expect-error the context of a module without capabilities has no cluster member
        void ctx.cluster;
      },
    });
    await assert.rejects(server.server.modules.start(plain), isServerError('MODULE_CAPABILITY_MISSING', /module "plain" uses ctx\.cluster without declaring capabilities: \['cluster'\]/));
    assert.ok(!server.server.modules.list().some((m) => m.name === 'plain'), 'a module whose setup failed is not running');
    // Positive control: the same module without the read starts, and its context shows no cluster plumbing.
    const quiet = defineModule({
      name: 'quiet',
      specs: [],
      setup(ctx) {
        seen.push(...Object.keys(ctx));
      },
    });
    await server.server.modules.start(quiet);
    for (const member of ['cluster', 'nodeId', 'placement', 'forward', 'deliverToNode', 'deliverRemote']) assert.ok(!seen.includes(member), `ctx.${member} is not there`);
    assert.ok(seen.includes('sessions') && seen.includes('onIq'), seen.join(' '));
    await server.server.modules.stop('quiet');
  });

  it('an unknown capability is refused before any module starts', async () => {
    const started: string[] = [];
    const first = defineModule({ name: 'first', specs: [], setup: (ctx) => void started.push(ctx.name) });
    const odd = defineModule({ name: 'odd', specs: [], capabilities: ['telepathy'] as readonly string[] as readonly Capability[], setup: (ctx) => void started.push(ctx.name) });
    await assert.rejects(server.server.modules.startAll([first, odd]), isServerError('MODULE_CAPABILITY_UNKNOWN', /module "odd" asks for the unknown capability "telepathy" \(known: cluster\)/));
    await assert.rejects(server.server.modules.start(odd), isServerError('MODULE_CAPABILITY_UNKNOWN', /"telepathy"/));
    assert.deepEqual(started, []);
  });

  it('ctx.config shows the core settings modules read, not the storage, Redis, TLS or admin settings', () => {
    const readable = (config: ModuleContext['config']): string => `${config.nodeId} ${config.admins.length} ${config.auth.scramIterations} ${config.c2s.requireTls}`;
    assert.match(readable(server.config), /^test 0 \d+ (true|false)$/);
    const hidden = (config: ModuleContext['config']): unknown[] => [
      // @ts-expect-error the database settings (with its URL and password) are not the modules'
      config.database,
      // @ts-expect-error nor Redis
      config.redis,
      // @ts-expect-error nor the TLS key
      config.tls,
      // @ts-expect-error nor the data directory
      config.dataDir,
    ];
    assert.equal(hidden(server.config).length, 4);
  });
});
