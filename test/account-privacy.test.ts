// A login attempt must not tell whether an account exists (issue #13 item 4): at a non-default
// iteration count, SCRAM's server-first-message for an unknown user has the same iteration count and
// salt length as a real one's, the same salt at every attempt (and after a restart, and on every
// node sharing Redis), and the same failure at the end; PLAIN does the same PBKDF2 work and takes
// about as long for an unknown user as for a known user's wrong password.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pbkdf2Work } from '../src/auth/credentials.js';
import { loadAuthSecret } from '../src/auth/stand-in.js';
import { SaslPeer } from './support/sasl-peer.js';
import { startTestServer, type TestServer } from './support/server.js';

const ITERATIONS = 4321;
/** No throttle in the way: these tests measure the exchange itself. */
const NO_THROTTLE = { failuresBeforeDelay: 1_000_000, addressFailuresBeforeDelay: 1_000_000, lockoutFailures: 0 };

interface ServerFirst {
  salt: Buffer;
  iterations: number;
}

function parseServerFirst(message: string): ServerFirst {
  const match = /^r=[^,]+,s=([^,]+),i=(\d+)(?:,h=[^,]+)?$/.exec(message);
  assert.ok(match, `not a server-first-message: ${message}`);
  return { salt: Buffer.from(match[1] ?? '', 'base64'), iterations: Number(match[2]) };
}

describe('Account privacy at login', function () {
  this.timeout(60_000);
  const peers: SaslPeer[] = [];

  const serverFirst = async (server: TestServer, username: string, mechanism: string): Promise<{ first: ServerFirst; text: string; peer: SaslPeer }> => {
    const peer = await SaslPeer.open(server.ports.c2s);
    peers.push(peer);
    const answer = await peer.scramFirst(username, mechanism);
    assert.equal(answer.result, 'challenge', `${mechanism} for ${username}`);
    return { first: parseServerFirst(answer.data), text: answer.data, peer };
  };

  afterEach(function () {
    for (const peer of peers.splice(0)) peer.destroy();
  });

  describe(`SCRAM at scram_iterations = ${ITERATIONS}`, function () {
    let server: TestServer;

    before(async function () {
      server = await startTestServer({ c2s: { requireTls: false }, auth: { scramIterations: ITERATIONS, ...NO_THROTTLE } });
      await server.addUser('romeo', 'r0m30');
    });

    after(async function () {
      await server?.stop();
    });

    for (const [mechanism, hashBytes] of [['SCRAM-SHA-1', 20], ['SCRAM-SHA-256', 32]] as const) {
      it(`${mechanism}: the same iteration count and salt length, a stable salt, and the same failure`, async function () {
        const real = await serverFirst(server, 'romeo', mechanism);
        const unknown = await serverFirst(server, 'juliet-not-here', mechanism);
        const again = await serverFirst(server, 'juliet-not-here', mechanism);
        const other = await serverFirst(server, 'someone-else', mechanism);
        assert.equal(real.first.iterations, ITERATIONS);
        assert.equal(unknown.first.iterations, real.first.iterations);
        assert.equal(unknown.first.salt.length, real.first.salt.length);
        assert.ok(unknown.first.salt.equals(again.first.salt), 'the same unknown username gets the same salt on every connection');
        assert.ok(!unknown.first.salt.equals(other.first.salt), 'different unknown usernames get different salts');
        // Same shape of message, character for character apart from the nonce and salt.
        assert.equal(unknown.text.replace(/r=[^,]+,s=[^,]+/, ''), real.text.replace(/r=[^,]+,s=[^,]+/, ''));

        const realFailure = await real.peer.scramWrongProof(real.text, hashBytes);
        const unknownFailure = await unknown.peer.scramWrongProof(unknown.text, hashBytes);
        assert.equal(realFailure.result, 'not-authorized');
        assert.deepEqual(unknownFailure.result, realFailure.result);
      });
    }

    it('keeps an unknown username\'s salt across a restart on the same data directory', async function () {
      const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-privacy-'));
      try {
        const first = await startTestServer({ dataDir, c2s: { requireTls: false }, auth: { scramIterations: ITERATIONS, ...NO_THROTTLE } });
        const before = (await serverFirst(first, 'ghost', 'SCRAM-SHA-1')).first.salt;
        await first.server.stop();
        const second = await startTestServer({ dataDir, c2s: { requireTls: false }, auth: { scramIterations: ITERATIONS, ...NO_THROTTLE } });
        const after = (await serverFirst(second, 'ghost', 'SCRAM-SHA-1')).first.salt;
        await second.stop();
        assert.ok(before.equals(after), 'the stand-in salt survives a restart');
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('the stand-in secret in a cluster', function () {
    it('is the same on every node sharing Redis, whatever each node had in its data directory', async function () {
      const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
      } catch (err) {
        if (process.env.CI === 'true') throw err;
        console.warn('\n  !!! no Redis on 127.0.0.1:6379: SKIPPING the shared-secret test !!!\n');
        this.skip();
      }
      const key = `rt-test:auth:secret:${process.pid}:${Date.now()}`;
      const dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'ratatosk-secret-'))));
      try {
        const [a = '', b = '', c = ''] = dirs;
        // The third node ran alone before and has a secret of its own.
        await writeFile(join(c, 'auth-secret'), `${'ab'.repeat(32)}\n`);
        const first = await loadAuthSecret(a, { client: redis, key });
        const second = await loadAuthSecret(b, { client: redis, key });
        const third = await loadAuthSecret(c, { client: redis, key });
        assert.ok(first.equals(second) && first.equals(third), 'every node adopts the secret the first one put in Redis');
        // Redis flushed: the next node to start seeds it again from its file, with the same secret.
        await redis.del(key);
        assert.ok((await loadAuthSecret(b, { client: redis, key })).equals(first));
        assert.ok((await loadAuthSecret(a)).equals(first), 'and each node kept it in its data directory');
      } finally {
        await redis.del(key);
        redis.disconnect();
        await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
      }
    });
  });

  describe('PLAIN', function () {
    // High enough that PBKDF2 dominates the time of an attempt.
    const COSTLY = 200_000;
    let server: TestServer;

    before(async function () {
      server = await startTestServer({ c2s: { requireTls: false }, auth: { scramIterations: COSTLY, ...NO_THROTTLE } });
      await server.addUser('nurse', 'IX-password');
    });

    after(async function () {
      await server?.stop();
    });

    const attempt = async (username: string): Promise<{ ms: number; iterations: number; result: string }> => {
      const peer = await SaslPeer.open(server.ports.c2s);
      peers.push(peer);
      const before = pbkdf2Work.iterations;
      const outcome = await peer.plain(username, 'wrong-password');
      return { ms: outcome.ms, iterations: pbkdf2Work.iterations - before, result: outcome.result };
    };
    const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;

    it('spends the same PBKDF2 work, and about the same time, on an unknown user as on a wrong password', async function () {
      const known: { ms: number; iterations: number; result: string }[] = [];
      const unknown: { ms: number; iterations: number; result: string }[] = [];
      // Interleaved, so that load on the machine hits both alike.
      for (let i = 0; i < 7; i++) {
        known.push(await attempt('nurse'));
        unknown.push(await attempt(`stranger${i % 2}`));
      }
      for (const a of [...known, ...unknown]) assert.equal(a.result, 'not-authorized');
      assert.deepEqual(unknown.map((a) => a.iterations), known.map(() => COSTLY), 'an unknown user costs the configured iteration count');
      assert.deepEqual(known.map((a) => a.iterations), known.map(() => COSTLY));
      const ratio = median(unknown.map((a) => a.ms)) / median(known.map((a) => a.ms));
      console.log(`      PLAIN failure medians: known ${median(known.map((a) => a.ms))} ms, unknown ${median(unknown.map((a) => a.ms))} ms (ratio ${ratio.toFixed(2)})`);
      assert.ok(ratio > 0.5 && ratio < 2, `unknown/known median time ratio ${ratio.toFixed(2)}; expected about 1`);
    });
  });
});
