// Login throttling on a real server (RFC 6120 §13.7.2.3), with attackers on several loopback
// addresses (127.0.0.2, 127.0.0.3...): parallel connections share the counters, a brute force is
// slowed and then locked, the owner keeps the address they logged in from and gets back in from a
// new one once the lock ends, a success on one account does not reset another's delay, and a
// locked account's answer is the same whether the password was right or wrong.
import assert from 'node:assert/strict';
import { SaslPeer, type Outcome } from './support/sasl-peer.js';
import { startTestServer, type TestServer } from './support/server.js';

const LOCK_SECONDS = 2;

describe('Login throttling', function () {
  this.timeout(30_000);
  let server: TestServer;
  const peers: SaslPeer[] = [];

  const open = async (address: string): Promise<SaslPeer> => {
    const peer = await SaslPeer.open(server.ports.c2s, address);
    peers.push(peer);
    return peer;
  };
  /** One PLAIN attempt on a connection of its own. */
  const login = async (address: string, username: string, password: string): Promise<Outcome> => (await open(address)).plain(username, password);

  before(async function () {
    server = await startTestServer({
      c2s: { requireTls: false },
      auth: {
        failuresBeforeDelay: 2,
        maxFailureDelayMs: 400,
        addressFailuresBeforeDelay: 1000,
        failureWindowSeconds: 60,
        lockoutFailures: 6,
        lockoutSeconds: LOCK_SECONDS,
        trustedLoginSeconds: 600,
      },
    });
    for (const user of ['alice', 'bob', 'carol', 'dave']) await server.addUser(user, `${user}-password`);
  });

  afterEach(function () {
    for (const peer of peers.splice(0)) peer.destroy();
  });

  after(async function () {
    await server?.stop();
  });

  it('serialises parallel guesses from one address: later ones are delayed, then refused with temporary-auth-failure', async function () {
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => login('127.0.0.2', 'bob', 'guess')));
    const results = outcomes.map((o) => o.result).sort();
    // Two at once, a third 250 ms later; the rest would have to wait longer than max_failure_delay_ms.
    assert.deepEqual(results, ['not-authorized', 'not-authorized', 'not-authorized', 'temporary-auth-failure', 'temporary-auth-failure']);
    const slowest = Math.max(...outcomes.filter((o) => o.result === 'not-authorized').map((o) => o.ms));
    assert.ok(slowest >= 200, `the third guess was answered after ${slowest} ms; expected the 250 ms delay`);
  });

  it('locks an account after a brute force from many connections and addresses; the owner keeps their address and gets back in after the lock', async function () {
    // The owner logged in before the attack: 127.0.0.1 is a trusted address for alice.
    assert.equal((await login('127.0.0.1', 'alice', 'alice-password')).result, 'success');

    const addresses = ['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
    const attack = async (address: string): Promise<Outcome[]> => {
      const peer = await open(address);
      const outcomes: Outcome[] = [];
      for (let i = 0; i < 5 && !peer.isClosed; i++) outcomes.push(await peer.plain('alice', `guess-${address}-${i}`));
      return outcomes;
    };
    const outcomes = (await Promise.all(addresses.flatMap((a) => [attack(a), attack(a), attack(a)]))).flat();
    const checked = outcomes.filter((o) => o.result === 'not-authorized').length;
    const refused = outcomes.filter((o) => o.result === 'temporary-auth-failure').length;
    assert.ok(checked <= 6, `${checked} of ${outcomes.length} guesses had their password checked; lockout_failures is 6`);
    assert.ok(checked >= 1, 'some guesses were checked');
    assert.equal(checked + refused, outcomes.length, `every guess is either checked or refused: ${outcomes.map((o) => o.result).join(' ')}`);

    // Locked: from a new address the right and a wrong password get the same answer.
    const right = await login('127.0.0.9', 'alice', 'alice-password');
    const wrong = await login('127.0.0.9', 'alice', 'not-it');
    assert.equal(right.result, 'temporary-auth-failure');
    assert.equal(wrong.result, 'temporary-auth-failure');
    // The owner's usual address still works while the attack goes on.
    assert.equal((await login('127.0.0.1', 'alice', 'alice-password')).result, 'success');
    assert.equal((await login('127.0.0.3', 'alice', 'guess-again')).result, 'temporary-auth-failure');

    // After the lock, the owner logs in from the new address.
    await new Promise((resolve) => setTimeout(resolve, LOCK_SECONDS * 1000 + 200));
    assert.equal((await login('127.0.0.9', 'alice', 'alice-password')).result, 'success');
    // ...and that success did not hand the attacker a new allowance: one more guess re-locks.
    assert.equal((await login('127.0.0.4', 'alice', 'guess-after')).result, 'not-authorized');
    assert.equal((await login('127.0.0.4', 'alice', 'guess-after-2')).result, 'temporary-auth-failure');
  });

  it('counts unknown accounts the same way, so a lock does not tell whether the account exists', async function () {
    const run = async (username: string): Promise<string[]> => {
      const results: string[] = [];
      for (let i = 0; i < 8; i++) results.push((await login(`127.0.0.${20 + i}`, username, `guess-${i}`)).result);
      return results;
    };
    const known = await run('carol');
    const unknown = await run('nobody-here');
    assert.deepEqual(unknown, known);
    assert.deepEqual(known.slice(5), ['not-authorized', 'temporary-auth-failure', 'temporary-auth-failure']);
  });

  it("a success on one account from an address does not reset that address's delay on another", async function () {
    const address = '127.0.0.40';
    const peer = await open(address);
    assert.equal((await peer.plain('dave', 'wrong-1')).result, 'not-authorized');
    assert.equal((await peer.plain('dave', 'wrong-2')).result, 'not-authorized');
    // Before: a login on another account cleared the address's failures, and the next guess came at once.
    assert.equal((await login(address, 'bob', 'bob-password')).result, 'success');
    const third = await peer.plain('dave', 'wrong-3');
    assert.equal(third.result, 'not-authorized');
    assert.ok(third.ms >= 200, `the third guess on dave was answered after ${third.ms} ms; expected the 250 ms delay`);
  });
});
