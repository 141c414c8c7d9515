import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { StreamError, StreamErrorCondition } from '../errors.js';
import { Element } from './element.js';
import { NS } from './ns.js';
import { XmlStreamParser, type ParserLimits, type StreamParserHandler } from './parser.js';

const LIMITS: ParserLimits = { maxStanzaBytes: 64 * 1024, maxDepth: 16 };

type Event =
  | { type: 'start'; name: string; attrs: Record<string, string> }
  | { type: 'element'; el: Element }
  | { type: 'end' }
  | { type: 'error'; condition: StreamErrorCondition; err: StreamError };

interface Recorder {
  parser: XmlStreamParser;
  events: Event[];
  /** Events as comparable strings: `start stream:stream`, the element's XML, `end`, `error <condition>`. */
  log(): string[];
  elements(): Element[];
  errors(): StreamErrorCondition[];
}

function record(limits: ParserLimits = LIMITS, hooks: Partial<StreamParserHandler> = {}): Recorder {
  const events: Event[] = [];
  const parser = new XmlStreamParser({
    onStreamStart(name, attrs) { events.push({ type: 'start', name, attrs }); hooks.onStreamStart?.(name, attrs); },
    onElement(el, size) { events.push({ type: 'element', el }); hooks.onElement?.(el, size); },
    onStreamEnd() { events.push({ type: 'end' }); hooks.onStreamEnd?.(); },
    onError(err) { events.push({ type: 'error', condition: err.condition, err }); hooks.onError?.(err); },
  }, limits);
  return {
    parser,
    events,
    log: () => events.map((e) => {
      switch (e.type) {
        case 'start': return `start ${e.name} ${JSON.stringify(e.attrs)}`;
        case 'element': return e.el.toString();
        case 'end': return 'end';
        case 'error': return `error ${e.condition}`;
      }
    }),
    elements: () => events.flatMap((e) => (e.type === 'element' ? [e.el] : [])),
    errors: () => events.flatMap((e) => (e.type === 'error' ? [e.condition] : [])),
  };
}

/** Parses `input` (after a default client header unless `raw`) in one write and returns the recorder. */
function parse(input: string, opts: { limits?: ParserLimits; raw?: boolean } = {}): Recorder {
  const r = record(opts.limits);
  r.parser.write(Buffer.from(opts.raw ? input : HEADER + input, 'utf8'));
  return r;
}

function errorOf(input: string, opts: { limits?: ParserLimits; raw?: boolean } = {}): StreamErrorCondition | undefined {
  const errors = parse(input, opts).errors();
  assert.ok(errors.length <= 1, 'at most one error is reported');
  return errors[0];
}

const HEADER = "<stream:stream to='im.example.com' version='1.0' xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams'>";

describe('XmlStreamParser', () => {
  describe('RFC 6120 §9 examples', () => {
    // RFC 6120 §9.1, the client's side of the conversation, written as a client would pretty-print it.
    const header = `<stream:stream
     from='juliet@im.example.com'
     to='im.example.com'
     version='1.0'
     xml:lang='en'
     xmlns='jabber:client'
     xmlns:stream='http://etherx.jabber.org/streams'>`;
    const headerAttrs = {
      from: 'juliet@im.example.com', to: 'im.example.com', version: '1.0', 'xml:lang': 'en',
      xmlns: 'jabber:client', 'xmlns:stream': 'http://etherx.jabber.org/streams',
    };

    it('reads the client stream header with its raw name and attributes', () => {
      const r = record();
      r.parser.write(Buffer.from("<?xml version='1.0'?>\n" + header));
      assert.deepEqual(r.events, [{ type: 'start', name: 'stream:stream', attrs: headerAttrs }]);
    });

    it('walks STARTTLS, SASL, resource binding, a message and the close, with stream restarts', () => {
      const r = record();
      const send = (s: string): void => r.parser.write(Buffer.from(s));
      send(header);
      send("\n  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      r.parser.reset(); // TLS negotiated
      send(header);
      send('<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1">' +
        'biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>');
      send('<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">' +
        'Yz1iaXdzLHI9b01zVEFBd0FBQUFNQUFBQU5QMFRBQUFBQUFCUFUwQUFlMTI0Njk1Yi02OWE5LTRkZTYtOWMzMC1iNTFiMzgwOGM1OWUscD1VQTU3dE0vU3ZwQVRCa0gyRlhzMFdEWHZKWXc9</response>');
      r.parser.reset(); // SASL success
      send(header);
      send(`<iq id='yhc13a95' type='set'>
     <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>
       <resource>balcony</resource>
     </bind>
   </iq>`);
      send(`<message from='juliet@im.example.com/balcony'
            id='ju2ba41c'
            to='romeo@example.net'
            type='chat'
            xml:lang='en'>
     <body>Art thou not Romeo, and a Montague?</body>
   </message>`);
      send('</stream:stream>');

      assert.deepEqual(r.errors(), []);
      assert.deepEqual(r.events.map((e) => e.type),
        ['start', 'element', 'start', 'element', 'element', 'start', 'element', 'element', 'end']);
      const [starttls, auth, response, iq, message] = r.elements();
      assert.ok(starttls && auth && response && iq && message);
      assert.ok(starttls.is('starttls', NS.tls));
      assert.ok(auth.is('auth', NS.sasl));
      assert.equal(auth.attrs.mechanism, 'SCRAM-SHA-1');
      assert.equal(auth.getText(), 'biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==');
      assert.ok(response.is('response', NS.sasl));
      assert.ok(iq.is('iq', NS.client), 'the iq inherits jabber:client from the header');
      assert.equal(iq.getChild('bind', NS.bind)?.getChildText('resource'), 'balcony');
      assert.ok(message.is('message', NS.client));
      assert.deepEqual(message.attrs, {
        from: 'juliet@im.example.com/balcony', id: 'ju2ba41c', to: 'romeo@example.net', type: 'chat',
        'xml:lang': 'en', xmlns: 'jabber:client',
      });
      assert.equal(message.getChildText('body'), 'Art thou not Romeo, and a Montague?');
    });

    it("reads the server's side: header and prefixed stream features", () => {
      const r = parse(`<?xml version='1.0'?>
<stream:stream
     from='im.example.com'
     id='t7AMCin9zjMNwQKDnplntZPIDEI='
     to='juliet@im.example.com'
     version='1.0'
     xml:lang='en'
     xmlns='jabber:client'
     xmlns:stream='http://etherx.jabber.org/streams'>
<stream:features>
     <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>
       <required/>
     </starttls>
   </stream:features>`, { raw: true });
      assert.deepEqual(r.errors(), []);
      const [features] = r.elements();
      assert.ok(features);
      assert.equal(features.name, 'stream:features', 'prefixed top-level elements keep their raw name');
      assert.equal(features.attrs.xmlns, undefined, 'and get no default namespace');
      const starttls = features.getChild('starttls', NS.tls);
      assert.ok(starttls);
      assert.equal(starttls.getChild('required')?.getNS(), NS.tls);
    });

    it('reads a stream error and the close (RFC 6120 §4.9)', () => {
      const r = parse("<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" +
        '</stream:error></stream:stream>');
      assert.deepEqual(r.log().slice(1), [
        '<stream:error><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>', 'end',
      ]);
    });

    it('reads a server-to-server stream in jabber:server', () => {
      const r = parse("<stream:stream from='example.net' to='im.example.com' version='1.0' xmlns='jabber:server' " +
        "xmlns:stream='http://etherx.jabber.org/streams'><message from='a@example.net' to='b@im.example.com'/>", { raw: true });
      assert.equal(r.elements()[0]?.attrs.xmlns, NS.server);
    });
  });

  describe('namespaces', () => {
    it('gives an unprefixed top-level element without xmlns the header default namespace', () => {
      assert.deepEqual(parse('<presence/>').log()[1], '<presence xmlns="jabber:client"/>');
    });

    it('keeps an explicit xmlns', () => {
      assert.equal(parse("<a xmlns='urn:example:a'/>").elements()[0]?.attrs.xmlns, 'urn:example:a');
      assert.equal(parse("<a xmlns=''/>").elements()[0]?.attrs.xmlns, '');
    });

    it('adds nothing when the header has no default namespace', () => {
      const r = parse("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><presence/>", { raw: true });
      assert.deepEqual(r.elements()[0]?.attrs, {});
    });

    it('resolves nested unprefixed elements through their parents', () => {
      const [iq] = parse("<iq type='result' id='r1'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>").elements();
      const item = iq?.getChild('query')?.getChild('item');
      assert.equal(item?.getNS(), NS.roster);
      assert.equal(item?.parent?.parent, iq);
      assert.equal(iq?.parent, null, 'top-level elements are detached');
    });

    it('resolves a prefixed element to its namespace, keeping declarations for prefixed attributes', () => {
      const [el] = parse("<message xmlns:x='urn:x'><x:y x:a='1'><z/></x:y></message>").elements();
      assert.equal(el?.attrs['xmlns:x'], 'urn:x');
      const y = el?.getChildByAttr('x:a', '1');
      assert.equal(y?.name, 'y');
      assert.equal(y?.attrs.xmlns, 'urn:x');
      assert.equal(y?.getNS(), 'urn:x');
      assert.equal(el?.getChild('y', 'urn:x'), y);
      // <z/> is in the stanza's default namespace, not x's: it says so now that its parent has xmlns.
      assert.equal(y?.getChild('z')?.getNS(), 'jabber:client');
      assert.equal(el?.toString(), '<message xmlns:x="urn:x" xmlns="jabber:client"><y x:a="1" xmlns="urn:x"><z xmlns="jabber:client"/></y></message>');
    });

    it('a prefixed payload is the same element as one with a default namespace', () => {
      const [prefixed, plain] = parse("<iq type='get' id='1'><q:query xmlns:q='jabber:iq:roster'/></iq>" +
        "<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>").elements();
      const [a, b] = [prefixed?.getChild('query', 'jabber:iq:roster'), plain?.getChild('query', 'jabber:iq:roster')];
      assert.ok(a && b);
      assert.deepEqual([a.name, a.attrs.xmlns], [b.name, b.attrs.xmlns]);
      // A prefixed stanza, and a prefix bound to the stanza's own namespace.
      const [stanza] = parse("<c:iq xmlns:c='jabber:client' type='get' id='2'><c:query/><query xmlns='urn:y'/></c:iq>").elements();
      assert.deepEqual([stanza?.name, stanza?.attrs.xmlns, stanza?.getChild('query', 'jabber:client')?.attrs.xmlns], ['iq', 'jabber:client', 'jabber:client']);
      assert.ok(stanza?.getChild('query', 'urn:y'));
    });

    it('an undeclared prefix, an undeclared prefix binding and a rebound xml prefix are not-well-formed', () => {
      assert.equal(errorOf(HEADER + "<message><q:query/></message>", { raw: true }), 'not-well-formed');
      assert.equal(errorOf(HEADER + "<message xmlns:q=''/>", { raw: true }), 'not-well-formed');
      assert.equal(errorOf(HEADER + "<message xmlns:xml='urn:other'/>", { raw: true }), 'not-well-formed');
      // The end tag names the element as it was written.
      assert.equal(errorOf(HEADER + "<message xmlns:q='urn:q'><q:a></a></message>", { raw: true }), 'not-well-formed');
      assert.equal(errorOf(HEADER + "<message xmlns:q='urn:q'><q:a></q:a></message>", { raw: true }), undefined);
    });

    it('keeps the stream: prefix of elements in the streams namespace, however they were written', () => {
      const [el] = parse("<s:error xmlns:s='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></s:error>").elements();
      assert.equal(el?.name, 'stream:error');
    });
  });

  describe('prolog, whitespace and the end', () => {
    it('accepts an XML declaration with UTF-8 encoding, and a byte order mark', () => {
      assert.equal(errorOf("<?xml version='1.0' encoding='UTF-8'?>" + HEADER, { raw: true }), undefined);
      assert.equal(errorOf('<?xml version="1.0" encoding="utf-8" standalone="yes" ?>\r\n' + HEADER, { raw: true }), undefined);
      assert.equal(errorOf('\uFEFF' + HEADER, { raw: true }), undefined);
    });

    it('rejects other encodings and broken declarations', () => {
      assert.equal(errorOf("<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER, { raw: true }), 'unsupported-encoding');
      assert.equal(errorOf("<?xml version='2.0'?>" + HEADER, { raw: true }), 'not-well-formed');
      assert.equal(errorOf("<?xml encoding='UTF-8'?>" + HEADER, { raw: true }), 'not-well-formed');
    });

    it('ignores whitespace keepalives between stanzas, however they are split', () => {
      const r = record();
      r.parser.write(HEADER);
      for (const ka of [' ', '\n', '\r\n', '\t', '  \n\n  ']) r.parser.write(Buffer.from(ka));
      r.parser.write('<presence/>');
      r.parser.write(' ');
      r.parser.write('\n<presence/>\n');
      assert.deepEqual(r.log().slice(1), ['<presence xmlns="jabber:client"/>', '<presence xmlns="jabber:client"/>']);
    });

    it('ignores whitespace before the header', () => {
      assert.equal(errorOf('\n  ' + HEADER, { raw: true }), undefined);
    });

    it('reports the end of the stream and ignores what follows', () => {
      const r = parse('<presence/></stream:stream><presence/>garbage');
      assert.deepEqual(r.events.map((e) => e.type), ['start', 'element', 'end']);
    });

    it('accepts whitespace in end tags', () => {
      assert.deepEqual(parse('<a><b></b ></a\n></stream:stream >').log().slice(1), ['<a xmlns="jabber:client"><b/></a>', 'end']);
    });
  });

  describe('text, attributes and entities', () => {
    it('decodes the predefined entities and character references in text and attributes', () => {
      const [el] = parse("<m a='&lt;&gt;&amp;&quot;&apos;' b=\"&#65;&#x42;&#x1F600;\">&lt;b&gt; &amp; &quot;q&quot; &apos;" +
        ' &#169; &#xe9; &#x1f600;</m>').elements();
      assert.equal(el?.attrs.a, '<>&"\'');
      assert.equal(el?.attrs.b, 'AB\u{1F600}');
      assert.equal(el?.getText(), '<b> & "q" \' © é \u{1F600}');
    });

    it('reads names of the lengths of the common stanza names exactly (to, id, type, xmlns, message, presence)', () => {
      // The parser gives the common names as literals; names of the same length that differ must stay themselves.
      const input = "<message to='a' tx='b' id='c' ie='d' type='e' tyqe='f' from='g' frum='h' xmlnz='i' xml:lang='j' xml:land='k'>" +
        "<iq/><ix/><body/><bodz/><presence/><presense/><messagf/></message>";
      const [el] = parse(input).elements();
      assert.deepEqual(Object.keys(el?.attrs ?? {}), ['to', 'tx', 'id', 'ie', 'type', 'tyqe', 'from', 'frum', 'xmlnz', 'xml:lang', 'xml:land', 'xmlns']);
      assert.deepEqual(Object.values(el?.attrs ?? {}), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', NS.client]);
      assert.deepEqual(el?.children.map((c) => (c instanceof Element ? c.name : c)), ['iq', 'ix', 'body', 'bodz', 'presence', 'presense', 'messagf']);
      assert.equal(el?.name, 'message');
    });

    it('keeps the other quote character literally inside attribute values', () => {
      const [el] = parse(`<m a="it's" b='say "hi"' c='>'/>`).elements();
      assert.deepEqual(el?.attrs, { a: "it's", b: 'say "hi"', c: '>', xmlns: NS.client });
    });

    it('normalises line ends in text and whitespace in attribute values (XML 1.0 §2.11, §3.3.3)', () => {
      const [el] = parse("<m a='x\ty\r\nz\nw&#10;&#9;'>l1\r\nl2\rl3\nl4</m>").elements();
      assert.equal(el?.attrs.a, 'x y z w\n\t');
      assert.equal(el?.getText(), 'l1\nl2\nl3\nl4');
    });

    it('keeps whitespace-only text inside stanzas and merges text around CDATA', () => {
      const [el] = parse('<m>\n  <body>a <![CDATA[<b> & ]]]]><![CDATA[>]]> c</body>\n</m>').elements();
      assert.equal(el?.children.length, 3);
      assert.equal(el?.children[0], '\n  ');
      assert.deepEqual(el?.getChild('body')?.children, ['a <b> & ]]> c']);
    });

    it('accepts empty CDATA and empty attribute values', () => {
      const [el] = parse("<m a=''><![CDATA[]]></m>").elements();
      assert.equal(el?.attrs.a, '');
      assert.deepEqual(el?.children, []);
    });

    it('accepts whitespace around = in attributes and non-ASCII names', () => {
      const [el] = parse("<données  clé = 'v' \n\t autre\n=\n\"w\" />").elements();
      assert.equal(el?.name, 'données');
      assert.equal(el?.attrs.clé, 'v');
      assert.equal(el?.attrs.autre, 'w');
    });

    it('keeps attributes named like Object.prototype members', () => {
      const [el] = parse("<m __proto__='p' constructor='c' toString='t' hasOwnProperty='h'/>").elements();
      assert.ok(el);
      assert.equal(Object.getOwnPropertyDescriptor(el.attrs, '__proto__')?.value, 'p');
      assert.equal(el.attrs.constructor, 'c');
      assert.equal(el.attrs.toString, 't');
      assert.equal(Object.getPrototypeOf(el.attrs), Object.prototype);
    });
  });

  describe('chunking', () => {
    const input = HEADER + "\n<message to='romeo@example.net' type='chat' id='a&amp;b'>" +
      '<body>Grüße &lt;3 — 中文 \u{1F600} &#x1F600;\r\n<![CDATA[x<y]]]>z</body>' +
      "<x xmlns='jabber:x:data'\ttype='form'><field var='a'><value>1</value></field></x></message>" +
      " <presence><status>away &amp; busy</status></presence>\n<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>" +
      '</stream:stream>';
    const expected = (() => {
      const r = record();
      r.parser.write(input);
      return r.log();
    })();

    it('parses the reference input', () => {
      assert.deepEqual(expected.filter((l) => l.startsWith('error')), []);
      assert.equal(expected.length, 5);
      assert.match(expected[1] ?? '', /<body>Grüße &lt;3 — 中文 \u{1F600} \u{1F600}\nx&lt;y\]z<\/body>/u);
    });

    it('gives the same result split at every character position', () => {
      for (let i = 1; i < input.length; i++) {
        const r = record();
        r.parser.write(input.slice(0, i));
        r.parser.write(input.slice(i));
        assert.deepEqual(r.log(), expected, `split at ${i}: ${JSON.stringify(input.slice(i - 5, i + 5))}`);
      }
    });

    it('gives the same result split at every byte position, multi-byte characters included', () => {
      const bytes = Buffer.from(input, 'utf8');
      assert.ok(bytes.length > input.length, 'the input has multi-byte characters');
      for (let i = 1; i < bytes.length; i++) {
        const r = record();
        r.parser.write(bytes.subarray(0, i));
        r.parser.write(bytes.subarray(i));
        assert.deepEqual(r.log(), expected, `split at byte ${i}`);
      }
    });

    it('gives the same result fed one byte at a time', () => {
      const bytes = Buffer.from(input, 'utf8');
      const r = record();
      for (let i = 0; i < bytes.length; i++) r.parser.write(bytes.subarray(i, i + 1));
      assert.deepEqual(r.log(), expected);
    });

    it('gives the same result split in three at many position pairs', () => {
      for (let i = 1; i < input.length; i += 3) {
        for (let j = i + 1; j < input.length; j += 7) {
          const r = record();
          r.parser.write(input.slice(0, i));
          r.parser.write(input.slice(i, j));
          r.parser.write(input.slice(j));
          assert.deepEqual(r.log(), expected, `split at ${i} and ${j}`);
        }
      }
    });

    it('decodes 2-, 3- and 4-byte UTF-8 characters split at every byte, in text, attributes and names', () => {
      for (const ch of ['é', '€', '中', '\u{2070E}']) {
        const stanza = `<m${ch} a${ch}='${ch}${ch}'>${ch}x${ch}</m${ch}>`;
        const bytes = Buffer.from(HEADER + stanza, 'utf8');
        for (let i = Buffer.byteLength(HEADER); i < bytes.length; i++) {
          const r = record();
          r.parser.write(bytes.subarray(0, i));
          r.parser.write(bytes.subarray(i));
          const [el] = r.elements();
          assert.deepEqual(r.errors(), [], `${ch} split at ${i}`);
          assert.equal(el?.name, `m${ch}`);
          assert.equal(el?.attrs[`a${ch}`], `${ch}${ch}`);
          assert.equal(el?.getText(), `${ch}x${ch}`);
        }
      }
    });

    it('accepts any XML character in text and attributes, but only name characters in names', () => {
      for (const ch of ['\u{1F600}', '\u{10FFFD}', '\uFFFD', '\u00A0']) {
        assert.equal(parse(`<m a='${ch}'>${ch}</m>`).elements()[0]?.getText(), ch);
      }
      assert.equal(errorOf('<m\u{F0000}/>'), 'not-well-formed', 'U+F0000 is beyond U+EFFFF');
      assert.equal(parse('<m\u{1F600}\u{EFFFF}/>').elements()[0]?.name, 'm\u{1F600}\u{EFFFF}');
      assert.equal(errorOf('<m\u00A0/>'), 'not-well-formed');
      assert.equal(errorOf('<\u0300m/>'), 'not-well-formed', 'a combining mark cannot start a name');
      assert.equal(parse('<m\u0300\u00B7-.9/>').elements()[0]?.name, 'm\u0300\u00B7-.9');
    });
  });

  describe('restricted XML (RFC 6120 §11.1)', () => {
    const cases: Array<[string, string, boolean?]> = [
      ['comment between stanzas', '<!-- hi -->'],
      ['comment inside a stanza', '<message><!-- hi --></message>'],
      ['comment before the header', '<!-- hi -->' + HEADER, true],
      ['processing instruction between stanzas', '<?foo bar?>'],
      ['processing instruction inside a stanza', '<message><?foo?></message>'],
      ['processing instruction before the header', '<?xml-stylesheet href="a"?>' + HEADER, true],
      ['an XML declaration after the header', "<?xml version='1.0'?>"],
      ['a second XML declaration', "<?xml version='1.0'?><?xml version='1.0'?>" + HEADER, true],
      ['DOCTYPE before the header', '<!DOCTYPE stream>' + HEADER, true],
      ['DOCTYPE with an internal subset', '<!DOCTYPE s [<!ENTITY x "y">]>' + HEADER, true],
      ['ENTITY declaration inside a stanza', '<message><!ENTITY x "y"></message>'],
      ['unknown entity in text', '<message><body>&nbsp;</body></message>'],
      ['unknown entity in an attribute', "<message to='&foo;'/>"],
      ['external entity reference', '<message>&xxe;</message>'],
    ];
    for (const [what, input, raw] of cases) {
      it(`answers ${what} with restricted-xml`, () => {
        assert.equal(errorOf(input, { raw: raw ?? false }), 'restricted-xml');
      });
    }

    it('detects a comment split across writes', () => {
      const r = record();
      r.parser.write(HEADER + '<message><');
      assert.deepEqual(r.errors(), []);
      r.parser.write('!');
      assert.deepEqual(r.errors(), []);
      r.parser.write('-- x -->');
      assert.deepEqual(r.errors(), ['restricted-xml']);
    });
  });

  describe('not-well-formed', () => {
    const cases: Array<[string, string, boolean?]> = [
      ['a mismatched end tag', '<message><body></message>'],
      ['a mismatched prefixed end tag', '<a:b xmlns:a="x"></a:c>'],
      ['the stream closed inside a stanza', '<message></stream:stream>'],
      ['a stray end tag', '<message></message></body>'],
      ['an end tag before the root', '</stream:stream>', true],
      ["'<' in an attribute value", "<message to='a<b'/>"],
      ['a duplicate attribute', "<message to='a' to='b'/>"],
      ['a duplicate xmlns', "<message xmlns='a' xmlns='b'/>"],
      ['a name starting with a digit', '<1message/>'],
      ['a name starting with a colon', '<:message/>'],
      ['a name ending with a colon', '<message:/>'],
      ['a name with two colons', '<a:b:c/>'],
      ['a bad attribute name', "<message -to='a'/>"],
      ['a space after <', '< message/>'],
      ['an empty tag', '<>'],
      ['text between stanzas', '<presence/>hello<presence/>'],
      ['an entity between stanzas', '&amp;'],
      ['garbage before the header', 'GET / HTTP/1.1\r\n' + HEADER, true],
      ['text before the header', 'x' + HEADER, true],
      ['an attribute without quotes', '<message to=romeo/>'],
      ['an attribute without value', '<message to/>'],
      ['an attribute without =', "<message to 'a'/>"],
      ['attributes not separated by whitespace', "<message to='a'type='chat'/>"],
      ["'/' not followed by '>'", '<message/ >'],
      ['a bare ampersand in text', '<body>AT&T</body>'],
      ['a bare ampersand in an attribute', "<m a='AT&T'/>"],
      ['an unterminated entity', '<body>&amp</body>'],
      ['a space inside an entity', '<body>&am p;</body>'],
      ['an empty entity', '<body>&;</body>'],
      ['an empty character reference', '<body>&#;</body>'],
      ['an empty hex character reference', '<body>&#x;</body>'],
      ['a bad decimal character reference', '<body>&#12a;</body>'],
      ['an uppercase X character reference', '<body>&#X41;</body>'],
      ['a reference to NUL', '<body>&#0;</body>'],
      ['a reference to a control character', '<body>&#x1B;</body>'],
      ['a reference to a surrogate', '<body>&#xD800;</body>'],
      ['a reference to U+FFFE', '<body>&#xFFFE;</body>'],
      ['a reference beyond U+10FFFF', '<body>&#x110000;</body>'],
      ['a huge character reference', '<body>&#99999999999999999999;</body>'],
      ['CDATA between stanzas', '<![CDATA[x]]>'],
      ["an unknown '<!' construct", '<m><!x></m>'],
      ["a misspelt CDATA", '<m><![CDATX[x]]></m>'],
    ];
    for (const [what, input, raw] of cases) {
      it(`rejects ${what}`, () => {
        assert.equal(errorOf(input, { raw: raw ?? false }), 'not-well-formed');
      });
    }

    it('rejects every XML-invalid control character, in text, attributes and between stanzas', () => {
      const bad = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0xb, 0xc, 0xe, 0xf, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0xfffe, 0xffff];
      for (const code of bad) {
        const ch = String.fromCharCode(code);
        assert.equal(errorOf(`<m>a${ch}b</m>`), 'not-well-formed', `U+${code.toString(16)} in text`);
        assert.equal(errorOf(`<m a='${ch}'/>`), 'not-well-formed', `U+${code.toString(16)} in an attribute`);
        assert.equal(errorOf(`<m/>${ch}<m/>`), 'not-well-formed', `U+${code.toString(16)} between stanzas`);
        assert.equal(errorOf(`<m${ch}/>`), 'not-well-formed', `U+${code.toString(16)} in a name`);
      }
      for (const ok of ['\t', '\n', '\r']) assert.equal(errorOf(`<m a='${ok}'>${ok}</m>`), undefined);
    });

    it('delivers the stanzas before the bad character', () => {
      const r = parse('<a/><b/>\u0000<c/>');
      assert.deepEqual(r.log().slice(1), ['<a xmlns="jabber:client"/>', '<b xmlns="jabber:client"/>', 'error not-well-formed']);
    });

    it('ignores all input after an error', () => {
      const r = parse('<message><body></message>');
      r.parser.write('<presence/>');
      r.parser.write('</stream:stream>');
      assert.deepEqual(r.events.map((e) => e.type), ['start', 'error']);
    });

    it('reports errors split across writes', () => {
      const r = record();
      r.parser.write(HEADER + "<message to='a");
      r.parser.write("<b'/>");
      assert.deepEqual(r.errors(), ['not-well-formed']);
    });
  });

  describe('limits', () => {
    const small: ParserLimits = { maxStanzaBytes: 100, maxDepth: 4 };

    it('accepts a stanza of exactly maxStanzaBytes and rejects one byte more', () => {
      const exact = `<m>${'x'.repeat(100 - 7)}</m>`;
      assert.equal(Buffer.byteLength(exact), 100);
      assert.equal(errorOf(exact, { limits: small }), undefined);
      assert.equal(errorOf(`<m>${'x'.repeat(100 - 6)}</m>`, { limits: small }), 'policy-violation');
    });

    it('counts UTF-8 bytes, not characters', () => {
      const euro = `<m>${'€'.repeat(31)}</m>`; // 7 + 93 bytes, 38 characters
      assert.equal(Buffer.byteLength(euro), 100);
      assert.equal(errorOf(euro, { limits: small }), undefined);
      assert.equal(errorOf(`<m>${'€'.repeat(31)}x</m>`, { limits: small }), 'policy-violation');
      // The same with the stanza split at every byte, so that the count spans writes.
      const over = Buffer.from(`${HEADER}<m>${'€'.repeat(31)}x</m>`);
      for (let i = Buffer.byteLength(HEADER) + 1; i < over.length; i++) {
        const r = record(small);
        r.parser.write(over.subarray(0, i));
        r.parser.write(over.subarray(i));
        assert.deepEqual(r.errors(), ['policy-violation'], `split at byte ${i}`);
      }
    });

    it('applies the cap to each stanza, not to the stream', () => {
      const r = record(small);
      r.parser.write(HEADER);
      for (let i = 0; i < 100; i++) r.parser.write(`<m>${'x'.repeat(90)}</m> `);
      assert.deepEqual(r.errors(), []);
      assert.equal(r.elements().length, 100);
    });

    it('stops a 10 MB unterminated text once it passes the cap, long before the end', () => {
      const limits = { maxStanzaBytes: 256 * 1024, maxDepth: 16 };
      const r = record(limits);
      r.parser.write(HEADER + '<message><body>');
      const chunk = Buffer.alloc(16 * 1024, 'a');
      let sent = 0;
      while (sent < 10 * 1024 * 1024 && r.errors().length === 0) {
        r.parser.write(chunk);
        sent += chunk.length;
      }
      assert.deepEqual(r.errors(), ['policy-violation']);
      assert.ok(sent <= limits.maxStanzaBytes + chunk.length, `stopped after ${sent} bytes`);
    });

    it('stops a single 10 MB write without buffering it', () => {
      const r = record({ maxStanzaBytes: 256 * 1024, maxDepth: 16 });
      r.parser.write(HEADER);
      r.parser.write('<message><body>' + 'a'.repeat(10 * 1024 * 1024));
      assert.deepEqual(r.errors(), ['policy-violation']);
    });

    it('caps unterminated attribute values, whitespace inside tags and end tags', () => {
      for (const open of ["<message to='", '<message ', '<message></message ', '<message><![CDATA[']) {
        const r = record(small);
        r.parser.write(HEADER + open);
        for (let i = 0; i < 20 && r.errors().length === 0; i++) r.parser.write(open.endsWith("'") || open.endsWith('[') ? 'aaaaaaaaaa' : '          ');
        assert.deepEqual(r.errors(), ['policy-violation'], open);
      }
    });

    it('caps names', () => {
      const r = record();
      r.parser.write(HEADER + '<m');
      for (let i = 0; i < 200 && r.errors().length === 0; i++) r.parser.write('mmmmmmmmmm');
      assert.deepEqual(r.errors(), ['policy-violation']);
      assert.equal(errorOf(`<${'a'.repeat(2000)}/>`), 'policy-violation');
    });

    it('caps the stream header and what comes before it', () => {
      assert.equal(errorOf(`<stream:stream to='${'a'.repeat(20000)}'>`, { raw: true }), 'policy-violation');
      assert.equal(errorOf(' '.repeat(20000) + HEADER, { raw: true }), 'policy-violation');
      const r = record();
      r.parser.write('<stream:stream ');
      for (let i = 0; i < 100 && r.errors().length === 0; i++) r.parser.write(Buffer.alloc(1024, ' '));
      assert.deepEqual(r.errors(), ['policy-violation']);
    });

    it('caps an unterminated XML declaration', () => {
      const r = record();
      r.parser.write("<?xml version='1.0'");
      for (let i = 0; i < 100 && r.errors().length === 0; i++) r.parser.write(Buffer.alloc(100, ' '));
      assert.deepEqual(r.errors(), ['policy-violation']);
    });

    it('enforces maxDepth, counting the stanza as depth 1', () => {
      assert.equal(errorOf('<a><b><c><d/></c></b></a>', { limits: small }), undefined);
      assert.equal(errorOf('<a><b><c><d><e/></d></c></b></a>', { limits: small }), 'policy-violation');
      assert.equal(errorOf('<a><b><c><d><e>', { limits: small }), 'policy-violation', 'as soon as the element opens');
    });

    it('applies new limits from setLimits to the next stanza', () => {
      const r = record(small);
      r.parser.write(HEADER + `<m>${'x'.repeat(90)}</m>`);
      r.parser.setLimits({ maxStanzaBytes: 1000 });
      r.parser.write(`<m>${'x'.repeat(900)}</m>`);
      assert.deepEqual(r.errors(), []);
      r.parser.setLimits({ maxDepth: 1 });
      r.parser.write('<a><b/></a>');
      assert.deepEqual(r.errors(), ['policy-violation']);
    });
  });

  describe('reset()', () => {
    it('expects a new stream header, XML declaration allowed', () => {
      const r = record();
      r.parser.write(HEADER + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      r.parser.reset();
      r.parser.write("<?xml version='1.0'?>" + HEADER.replace('jabber:client', 'jabber:server') + '<presence/>');
      assert.deepEqual(r.events.map((e) => e.type), ['start', 'element', 'start', 'element']);
      assert.equal(r.elements()[1]?.attrs.xmlns, NS.server, 'the new header sets the default namespace');
    });

    it('forgets a partial stanza and a partial UTF-8 character', () => {
      const r = record();
      r.parser.write(HEADER + '<message><body>');
      r.parser.write(Buffer.from('é').subarray(0, 1));
      r.parser.reset();
      r.parser.write(HEADER + '<presence/>');
      assert.deepEqual(r.errors(), []);
      assert.equal(r.elements()[0]?.name, 'presence');
    });

    it('clears an error', () => {
      const r = record();
      r.parser.write(HEADER + '<!-- x -->');
      r.parser.reset();
      r.parser.write(HEADER + '<presence/>');
      assert.deepEqual(r.events.map((e) => e.type), ['start', 'error', 'start', 'element']);
    });

    it('called from onElement, parses the rest of the chunk as the new stream', () => {
      const r = record(LIMITS, {
        onElement(el) { if (el.name === 'auth') r.parser.reset(); },
      });
      r.parser.write(HEADER + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>" +
        "<?xml version='1.0'?>" + HEADER + '<iq/>');
      assert.deepEqual(r.events.map((e) => e.type), ['start', 'element', 'start', 'element']);
      assert.equal(r.elements()[1]?.name, 'iq');
    });
  });

  it('builds plain ltx elements', () => {
    const [el] = parse("<message to='a'><body>hi</body></message>").elements();
    assert.ok(el instanceof Element);
    assert.equal(el.toString(), new Element('message', { to: 'a', xmlns: NS.client }).c('body').t('hi').root().toString());
    assert.equal(el.getChild('body')?.parent, el);
  });
});

describe('XmlStreamParser misuse', () => {
  it('refuses a write() from its own callback and stops', () => {
    const parser: XmlStreamParser = new XmlStreamParser({
      onStreamStart() {},
      onElement() { parser.write('<presence/>'); },
      onStreamEnd() {},
      onError() {},
    }, LIMITS);
    assert.throws(() => parser.write(HEADER + '<presence/>'), /own callbacks/);
  });
});
