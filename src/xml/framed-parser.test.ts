import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import { parseFrame } from './framed-parser.js';
import { NS } from './ns.js';
import type { ParserLimits } from './parser.js';

const LIMITS: ParserLimits = { maxStanzaBytes: 64 * 1024, maxDepth: 16 };

function errorOf(frame: string, limits: ParserLimits = LIMITS): StreamErrorCondition | undefined {
  try {
    parseFrame(frame, limits);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof StreamError, `a StreamError, not ${String(err)}`);
    return err.condition;
  }
}

describe('parseFrame (RFC 7395)', () => {
  describe('the RFC examples', () => {
    it('§3.4: reads the client <open/>', () => {
      const el = parseFrame('<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"\n             to="example.com"\n             version="1.0" />', LIMITS);
      assert.ok(el.is('open', NS.framing));
      assert.deepEqual(el.attrs, { xmlns: NS.framing, to: 'example.com', version: '1.0' });
      assert.deepEqual(el.children, []);
    });

    it("§3.4: reads the server's <open/> answer", () => {
      const el = parseFrame('<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"\n             from="example.com"\n' +
        '             id="++TR84Sm6A3hnt3Q065SnAbbk3Y="\n             xml:lang="en"\n             version="1.0" />', LIMITS);
      assert.ok(el.is('open', NS.framing));
      assert.equal(el.attrs.id, '++TR84Sm6A3hnt3Q065SnAbbk3Y=');
      assert.equal(el.attrs['xml:lang'], 'en');
    });

    it('§3.4: reads stream features, which declare the stream prefix themselves', () => {
      const el = parseFrame('<stream:features xmlns:stream="http://etherx.jabber.org/streams">\n' +
        '  <mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">\n    <mechanism>PLAIN</mechanism>\n  </mechanisms>\n' +
        '</stream:features>', LIMITS);
      assert.equal(el.name, 'stream:features');
      assert.equal(el.getNS(), NS.stream);
      assert.equal(el.attrs.xmlns, undefined, 'a prefixed root gets no default namespace');
      assert.deepEqual(el.getChild('mechanisms', NS.sasl)?.getChildren('mechanism').map((m) => m.getText()), ['PLAIN']);
    });

    it('§3.3.3: reads a stanza that carries its own namespace', () => {
      const el = parseFrame('<message xmlns="jabber:client" xml:lang="en">\n' +
        '  <body>Every WebSocket message is parsable by itself.</body>\n</message>', LIMITS);
      assert.ok(el.is('message', NS.client));
      assert.equal(el.getChildText('body'), 'Every WebSocket message is parsable by itself.');
    });

    it('§3.5: reads SASL negotiation frames', () => {
      const auth = parseFrame('<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGp1bGlldAByMG0zMG15cjBtMzA=</auth>', LIMITS);
      assert.ok(auth.is('auth', NS.sasl));
      assert.equal(auth.getText(), 'AGp1bGlldAByMG0zMG15cjBtMzA=');
      assert.ok(parseFrame('<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl" />', LIMITS).is('success', NS.sasl));
    });

    it('§3.6: reads <close/>, with and without see-other-uri', () => {
      assert.ok(parseFrame('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing" />', LIMITS).is('close', NS.framing));
      const moved = parseFrame('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"\n' +
        '       see-other-uri="wss://otherendpoint.example/xmpp-bind" />', LIMITS);
      assert.equal(moved.attrs['see-other-uri'], 'wss://otherendpoint.example/xmpp-bind');
    });

    it('§3.6: reads a stream error that declares its prefix', () => {
      const el = parseFrame('<stream:error xmlns:stream="http://etherx.jabber.org/streams">' +
        '<host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>', LIMITS);
      assert.equal(el.getNS(), NS.stream);
      assert.ok(el.getChild('host-unknown', NS.streams));
    });
  });

  describe('namespaces', () => {
    it('gives an unprefixed root without xmlns jabber:client, as ejabberd does for Tsung', () => {
      const el = parseFrame("<message to='a@example.com' type='chat'><body>hi</body></message>", LIMITS);
      assert.equal(el.attrs.xmlns, NS.client);
      assert.equal(el.getChild('body')?.getNS(), NS.client);
      assert.equal(parseFrame('<iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>', LIMITS).getChild('ping')?.getNS(), NS.ping);
    });

    it('keeps an explicit namespace', () => {
      assert.equal(parseFrame("<r xmlns='urn:xmpp:sm:3' h='1'/>", LIMITS).attrs.xmlns, 'urn:xmpp:sm:3');
    });

    it('resolves prefixes: a prefixed stanza and payload are the ones written with default namespaces', () => {
      const el = parseFrame("<c:iq xmlns:c='jabber:client' type='get' id='1'><q:query xmlns:q='jabber:iq:roster'><item/></q:query></c:iq>", LIMITS);
      assert.deepEqual([el.name, el.attrs.xmlns], ['iq', NS.client]);
      const query = el.getChild('query', 'jabber:iq:roster');
      assert.equal(query?.attrs.xmlns, 'jabber:iq:roster');
      // <item/> was in the frame's default namespace (jabber:client), not the roster's.
      assert.equal(query?.getChild('item')?.getNS(), NS.client);
      assert.equal(errorOf("<q:query xmlns:p='urn:p'/>"), 'not-well-formed');
    });

    it('returns a detached element with parent links inside', () => {
      const el = parseFrame('<a><b><c/></b></a>', LIMITS);
      assert.equal(el.parent, null);
      assert.equal(el.getChild('b')?.getChild('c')?.parent?.parent, el);
    });
  });

  describe('tolerated', () => {
    it('whitespace around the element and an XML declaration', () => {
      assert.equal(parseFrame(' \n<presence/>\n ', LIMITS).name, 'presence');
      assert.equal(parseFrame("<?xml version='1.0'?><presence/>", LIMITS).name, 'presence');
    });

    it('entities, character references and CDATA', () => {
      const el = parseFrame("<message a='&lt;&#x41;'><body>&amp;<![CDATA[<x>]]>&#233;</body></message>", LIMITS);
      assert.equal(el.attrs.a, '<A');
      assert.equal(el.getChildText('body'), '&<x>é');
    });

    it('a new frame after a broken one', () => {
      assert.equal(errorOf('<message>'), 'not-well-formed');
      assert.equal(parseFrame('<presence/>', LIMITS).name, 'presence');
    });
  });

  describe('errors', () => {
    const cases: Array<[string, string, StreamErrorCondition]> = [
      ['an empty frame', '', 'not-well-formed'],
      ['a whitespace-only frame', '  ', 'not-well-formed'],
      ['an unclosed element', '<message><body>hi</body>', 'not-well-formed'],
      ['a truncated start tag', "<message to='a", 'not-well-formed'],
      ['an unclosed stream header', "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", 'not-well-formed'],
      ['two root elements', '<presence/><presence/>', 'not-well-formed'],
      ['trailing text', '<presence/>hello', 'not-well-formed'],
      ['leading text', 'hello<presence/>', 'not-well-formed'],
      ['a trailing end tag', '<presence/></presence>', 'not-well-formed'],
      ['a mismatched end tag', '<message></presence>', 'not-well-formed'],
      ['a duplicate attribute', "<message to='a' to='a'/>", 'not-well-formed'],
      ["'<' in an attribute value", "<message to='<'/>", 'not-well-formed'],
      ['an unquoted attribute', '<message to=a/>', 'not-well-formed'],
      ['a control character', '<message>\u0007</message>', 'not-well-formed'],
      ['a reference to NUL', '<message>&#0;</message>', 'not-well-formed'],
      ['a bare ampersand', '<message>a & b</message>', 'not-well-formed'],
      ['a top-level CDATA', '<![CDATA[x]]>', 'not-well-formed'],
      ['a comment', '<message><!-- x --></message>', 'restricted-xml'],
      ['a trailing comment', '<presence/><!-- x -->', 'not-well-formed'],
      ['a leading comment', '<!-- x --><presence/>', 'restricted-xml'],
      ['a processing instruction', '<?foo?><presence/>', 'restricted-xml'],
      ['a processing instruction inside', '<presence><?foo?></presence>', 'restricted-xml'],
      ['a DOCTYPE', '<!DOCTYPE presence [<!ENTITY x "y">]><presence>&x;</presence>', 'restricted-xml'],
      ['an unknown entity', '<message>&nbsp;</message>', 'restricted-xml'],
      ['a non-UTF-8 declaration', "<?xml version='1.0' encoding='ISO-8859-1'?><presence/>", 'unsupported-encoding'],
    ];
    for (const [what, frame, condition] of cases) {
      it(`rejects ${what} with ${condition}`, () => {
        assert.equal(errorOf(frame), condition);
      });
    }

    it('caps the size in UTF-8 bytes', () => {
      const limits = { maxStanzaBytes: 100, maxDepth: 16 };
      const exact = `<m>${'€'.repeat(31)}</m>`;
      assert.equal(Buffer.byteLength(exact), 100);
      assert.equal(errorOf(exact, limits), undefined);
      assert.equal(errorOf(`<m>${'€'.repeat(31)}x</m>`, limits), 'policy-violation');
      assert.equal(errorOf(`<m>${'x'.repeat(200)}</m>`, limits), 'policy-violation');
    });

    it('caps the depth, the frame element being depth 1', () => {
      const limits = { maxStanzaBytes: 1000, maxDepth: 3 };
      assert.equal(errorOf('<a><b><c/></b></a>', limits), undefined);
      assert.equal(errorOf('<a><b><c><d/></c></b></a>', limits), 'policy-violation');
    });
  });
});
