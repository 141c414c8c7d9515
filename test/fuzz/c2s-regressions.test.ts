// Counterexamples fast-check found in the c2s stream (test/fuzz/c2s-stream.test.ts), kept as plain examples.
import assert from 'node:assert/strict';
import { NS } from '../../src/xml/ns.js';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { FuzzTransport } from './stream-transport.js';

const HEADER = { xmlns: NS.client, 'xmlns:stream': NS.stream, to: 'localhost', version: '1.0' };

describe('c2s stream: fuzzing counterexamples', function () {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: { failuresBeforeDelay: 1_000_000, addressFailuresBeforeDelay: 1_000_000 } });
    await server.addUser('juliet', 'r0m30');
  });
  after(async () => {
    await server?.stop();
  });

  it('writes no SASL <failure/> after a stream error that came while the password was being checked', async () => {
    const transport = new FuzzTransport();
    server.server.connect(transport);
    transport.events.onStreamStart(HEADER, 'stream:stream');
    transport.events.onElement(parseFrame(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from('\0juliet\0wrong').toString('base64')}</auth>`, { maxStanzaBytes: 4096, maxDepth: 8 }));
    // The check has started (the stream works through a queue); a second header now is a stream error at once.
    await new Promise((resolve) => setImmediate(resolve));
    transport.events.onStreamStart(HEADER, 'stream:stream');
    for (let i = 0; i < 100 && transport.problems.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(transport.closed?.error?.condition, 'not-well-formed');
    assert.deepEqual(transport.problems, []);
    transport.events.onDisconnect();
  });
});
