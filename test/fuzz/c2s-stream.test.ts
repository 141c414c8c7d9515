// Fuzzing the c2s stream state machine (src/stream/c2s-stream.ts) in-process: a server with embedded storage,
// and a StreamTransport made here (transport.ts), driven with sequences of headers, SASL, bind, stanzas,
// garbage elements and closings in any order. Nothing may escape; a stream error is RFC 6120 §4.9.3's (one
// defined condition) and is the last thing written; a stanza error is §8.3's; every IQ is answered while the
// stream lives; the stream always ends, and the session registry is empty after the disconnect.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StreamError, type StreamErrorCondition } from '../../src/errors.js';
import type { Element } from '../../src/xml/element.js';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { NS } from '../../src/xml/ns.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { FuzzTransport } from './stream-transport.js';
import { counted, FUZZ_TIMEOUT, fuzzParams } from './support.js';

const STREAM_CONDITIONS: ReadonlySet<StreamErrorCondition> = new Set<StreamErrorCondition>(['bad-format', 'bad-namespace-prefix', 'conflict',
  'connection-timeout', 'host-gone', 'host-unknown', 'improper-addressing', 'internal-server-error', 'invalid-from', 'invalid-namespace',
  'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation', 'remote-connection-failed', 'reset', 'resource-constraint',
  'restricted-xml', 'see-other-host', 'system-shutdown', 'undefined-condition', 'unsupported-encoding', 'unsupported-feature',
  'unsupported-stanza-type', 'unsupported-version']);
const STANZA_CONDITIONS: ReadonlySet<string> = new Set(['bad-request', 'conflict', 'feature-not-implemented', 'forbidden', 'gone',
  'internal-server-error', 'item-not-found', 'jid-malformed', 'not-acceptable', 'not-allowed', 'not-authorized', 'policy-violation',
  'recipient-unavailable', 'redirect', 'registration-required', 'remote-server-not-found', 'remote-server-timeout', 'resource-constraint',
  'service-unavailable', 'subscription-required', 'undefined-condition', 'unexpected-request']);
const SASL_CONDITIONS: ReadonlySet<string> = new Set(['aborted', 'account-disabled', 'credentials-expired', 'encryption-required',
  'incorrect-encoding', 'invalid-authzid', 'invalid-mechanism', 'malformed-request', 'mechanism-too-weak', 'not-authorized', 'temporary-auth-failure']);

type Step =
  | { kind: 'header'; attrs: Record<string, string>; name: string }
  | { kind: 'element'; xml: string }
  | { kind: 'end' }
  | { kind: 'parse-error' };

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const HEADER: Step = { kind: 'header', name: 'stream:stream', attrs: { xmlns: NS.client, 'xmlns:stream': NS.stream, to: 'localhost', version: '1.0' } };
const elementArb = fc.oneof(
  fc.constantFrom(
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('\0juliet\0r0m30')}</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('\0juliet\0wrong')}</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('juliet@localhost\0juliet\0r0m30')}</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>not base64!</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'/>`,
    `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>=</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='SCRAM-SHA-256'>${b64('n,,n=juliet,r=abc')}</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='SCRAM-SHA-1-PLUS'>${b64('p=tls-exporter,,n=juliet,r=abc')}</auth>`,
    `<auth xmlns='${NS.sasl}' mechanism='BOGUS'/>`,
    `<auth xmlns='${NS.sasl}'/>`,
    `<response xmlns='${NS.sasl}'>${b64('c=biws,r=abc,p=AAAA')}</response>`,
    `<response xmlns='${NS.sasl}'/>`,
    `<abort xmlns='${NS.sasl}'/>`,
    `<success xmlns='${NS.sasl}'/>`,
    `<starttls xmlns='${NS.tls}'/>`,
    `<iq type='set' id='b1'><bind xmlns='${NS.bind}'/></iq>`,
    `<iq type='set' id='b2'><bind xmlns='${NS.bind}'><resource>fuzz</resource></bind></iq>`,
    `<iq type='set' id='b3'><bind xmlns='${NS.bind}'><resource></resource></bind></iq>`,
    `<iq type='set' id='b4'><bind xmlns='${NS.bind}'><resource>a/b@c</resource><resource>x</resource></bind></iq>`,
    `<iq type='set' id='s1'><session xmlns='${NS.session}'/></iq>`,
    `<iq type='get' id='r1'><query xmlns='${NS.roster}'/></iq>`,
    `<iq type='get' id='p1' to='localhost'><ping xmlns='${NS.ping}'/></iq>`,
    `<iq type='get' id='v1' to='localhost'><query xmlns='${NS.version}'/></iq>`,
    `<iq type='get' id='d1' to='localhost'><query xmlns='${NS.discoInfo}'/></iq>`,
    `<iq type='get' id='u1'><unknown xmlns='urn:fuzz'/></iq>`,
    "<iq type='get' id='e1'/>",
    "<iq type='get' id='e2'><a xmlns='urn:a'/><b xmlns='urn:b'/></iq>",
    "<iq type='result' id='x1'/>",
    "<iq type='bogus' id='x2'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<iq id='x3'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<message to='juliet@localhost' type='chat'><body>hi</body></message>",
    "<message to='nobody@localhost'><body>hi</body></message>",
    "<message to='@@bad'><body>x</body></message>",
    "<message type='error' to='localhost'/>",
    '<presence/>',
    "<presence type='unavailable'/>",
    "<presence type='subscribe' to='romeo@localhost'/>",
    "<presence from='someone@else/x'/>",
    `<enable xmlns='${NS.sm}' resume='true'/>`,
    `<r xmlns='${NS.sm}'/>`,
    `<a xmlns='${NS.sm}' h='5'/>`,
    `<resume xmlns='${NS.sm}' previd='nope' h='0'/>`,
    `<active xmlns='${NS.csi}'/>`,
    "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
    '<garbage/>',
    "<foo xmlns='urn:nothing'><bar/></foo>",
  ),
  fc.tuple(fc.constantFrom('iq', 'message', 'presence', 'x', 'auth', 'bind'), fc.constantFrom('get', 'set', 'result', 'error', 'chat', ''),
    fc.constantFrom('', 'localhost', 'juliet@localhost', 'juliet@localhost/fuzz', 'x@y/z', '@'), fc.constantFrom('', NS.client, NS.sasl, 'urn:x'))
    .map(([name, type, to, xmlns]) => `<${name}${type ? ` type='${type}'` : ''}${to ? ` to='${to}'` : ''}${xmlns ? ` xmlns='${xmlns}'` : ''} id='g'/>`),
);
const headerArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(HEADER) },
  fc.record({
    kind: fc.constant('header' as const),
    name: fc.constantFrom('stream:stream', 'stream', 'x:stream', 'open'),
    attrs: fc.record({
      xmlns: fc.constantFrom(NS.client, NS.server, 'urn:x', ''),
      'xmlns:stream': fc.constantFrom(NS.stream, 'urn:x'),
      to: fc.constantFrom('localhost', 'example.org', '', '@'),
      version: fc.constantFrom('1.0', '0.9', '2.0', 'x', '1.1'),
    }, { requiredKeys: [] }),
  }),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: elementArb.map((xml) => ({ kind: 'element' as const, xml })) },
  { weight: 2, arbitrary: headerArb },
  { weight: 1, arbitrary: fc.constantFrom<Step>({ kind: 'end' }, { kind: 'parse-error' }) },
);

/** An error child per RFC 6120 §8.3: a type, and exactly one defined condition. */
function checkStanzaError(stanza: Element): void {
  const error = stanza.getChild('error');
  assert.ok(error, `an error stanza without <error/>: ${stanza.toString()}`);
  assert.ok(['auth', 'cancel', 'continue', 'modify', 'wait'].includes(error.attrs.type ?? ''), `error type ${error.attrs.type}`);
  const conditions = error.children.filter((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS.stanzas && c.name !== 'text');
  assert.equal(conditions.length, 1, `one condition: ${stanza.toString()}`);
  assert.ok(STANZA_CONDITIONS.has((conditions[0] as Element).name), `condition ${(conditions[0] as Element).name}`);
}

function checkSaslFailure(failure: Element): void {
  const conditions = failure.children.filter((c): c is Element => typeof c !== 'string' && c.name !== 'text');
  assert.equal(conditions.length, 1, `one condition: ${failure.toString()}`);
  assert.ok(SASL_CONDITIONS.has((conditions[0] as Element).name), `SASL condition ${(conditions[0] as Element).name}`);
}

async function settle(transport: FuzzTransport): Promise<void> {
  // The stream works through a promise queue and the embedded store: wait until it has closed, up to 5 s.
  for (let i = 0; i < 500 && !transport.closed; i++) await new Promise((resolve) => setTimeout(resolve, i < 20 ? 0 : 10));
}

describe('fuzz: c2s stream state machine', function () {
  this.timeout(FUZZ_TIMEOUT);
  let server: TestServer;
  const escaped: unknown[] = [];
  const onRejection = (reason: unknown): void => { escaped.push(reason); };

  before(async () => {
    server = await startTestServer({
      auth: { scramIterations: 16, failuresBeforeDelay: 1_000_000, addressFailuresBeforeDelay: 1_000_000, lockoutFailures: 1_000_000 },
      limits: { stanzaRate: 1_000_000, stanzaBurst: 1_000_000 },
    });
    await server.addUser('juliet', 'r0m30');
    process.on('unhandledRejection', onRejection);
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await server?.stop();
  });

  it('sequences of headers, SASL, bind, stanzas, garbage and closings', async () => {
    let bound = 0;
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { maxLength: 14 }), fc.boolean(), async (steps, plainFirst) => {
      counted();
      const transport = new FuzzTransport();
      server.server.connect(transport);
      // Half the runs start as a client that logs in would, so that later steps meet a bound stream.
      const login: Step[] = plainFirst ? [HEADER, { kind: 'element', xml: `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('\0juliet\0r0m30')}</auth>` }, HEADER,
        { kind: 'element', xml: `<iq type='set' id='b2'><bind xmlns='${NS.bind}'><resource>fuzz</resource></bind></iq>` }] : [];
      const asked: string[] = [];
      let ended = false;
      for (const step of [...login, ...steps, { kind: 'end' } as Step]) {
        switch (step.kind) {
          case 'header': transport.events.onStreamStart(step.attrs, step.name); break;
          case 'element': {
            const el = parseFrame(step.xml, { maxStanzaBytes: 1 << 16, maxDepth: 16 });
            if (!ended && el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set') && el.attrs.id) asked.push(el.attrs.id);
            transport.events.onElement(el, step.xml.length);
            break;
          }
          case 'end': ended = true; transport.events.onStreamEnd(); break;
          case 'parse-error': ended = true; transport.events.onStreamError(new StreamError('not-well-formed', 'fuzz')); break;
        }
        // Let the stream work as it would between reads.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await settle(transport);
      assert.ok(transport.closed, 'the stream ended after the client closed it');
      assert.deepEqual(transport.problems, []);
      const error = transport.closed.error;
      if (error) {
        assert.ok(error instanceof StreamError);
        assert.ok(STREAM_CONDITIONS.has(error.condition), `stream error ${error.condition}`);
        assert.notEqual(error.condition, 'internal-server-error', `an exception inside the stream: ${error.text ?? ''}`);
        const el = error.toElement();
        assert.equal(el.name, 'stream:error');
        assert.equal(el.children.filter((c) => typeof c !== 'string' && c.attrs.xmlns === NS.streams && c.name !== 'text').length, 1);
      }
      for (const stanza of transport.sent) {
        // The client's own stanzas sent to itself come back as written; only the server's errors are checked.
        if (stanza.attrs.type === 'error' && stanza.attrs.from !== 'juliet@localhost/fuzz') checkStanzaError(stanza);
        if (stanza.name === 'failure' && stanza.attrs.xmlns === NS.sasl) checkSaslFailure(stanza);
        if (stanza.name === 'iq' && stanza.attrs.type === 'result' && stanza.getChild('bind', NS.bind)) bound++;
      }
      if (!error) {
        // A stream closed cleanly answered every IQ get/set it took (RFC 6120 §8.2.3).
        const answered = new Set(transport.sent.filter((s) => s.name === 'iq' && (s.attrs.type === 'result' || s.attrs.type === 'error')).map((s) => s.attrs.id));
        for (const id of asked) assert.ok(answered.has(id), `IQ ${id} unanswered`);
      }
      transport.events.onDisconnect();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(server.server.sessions.size, 0, 'the session registry is empty after the disconnect');
      assert.deepEqual(escaped, [], 'no rejection escaped');
    }), fuzzParams(1_000));
    assert.ok(bound > 0, 'some runs bound a resource (positive control)');
  });
});
