// RFC 7622 §3.5 (examples of valid JIDs) and §3.6 (examples of invalid JIDs), as far as jid.ts
// implements the PRECIS profiles (its header says where it approximates them), and the parse cache.
import assert from 'node:assert/strict';
import { Jid, JidError } from './jid.js';

describe('Jid (RFC 7622)', () => {
  describe('§3.5 valid JIDs', () => {
    const valid: Array<[string, string, string, string]> = [
      // input, local, domain, resource
      ['juliet@example.com', 'juliet', 'example.com', ''],
      ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
      ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
      ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
      ['foo\\20bar@example.com', 'foo\\20bar', 'example.com', ''],
      ['fussball@example.com', 'fussball', 'example.com', ''],
      ['fußball@example.com', 'fußball', 'example.com', ''],
      ['π@example.com', 'π', 'example.com', ''],
      ['Σ@example.com/foo', 'σ', 'example.com', 'foo'],
      ['σ@example.com/foo', 'σ', 'example.com', 'foo'],
      ['ς@example.com/foo', 'ς', 'example.com', 'foo'],
      ['king@example.com/♚', 'king', 'example.com', '♚'],
      ['example.com', '', 'example.com', ''],
      ['example.com/foobar', '', 'example.com', 'foobar'],
      ['a.example.com/b@example.net', '', 'a.example.com', 'b@example.net'],
    ];
    for (const [input, local, domain, resource] of valid) {
      it(input, () => {
        const jid = Jid.parse(input);
        assert.deepEqual([jid.local, jid.domain, jid.resource], [local, domain, resource]);
      });
    }

    it('fussball and fußball are different JIDs; Σ and σ are the same', () => {
      assert.ok(!Jid.parse('fussball@example.com').equals(Jid.parse('fußball@example.com')));
      assert.ok(Jid.parse('Σ@example.com/foo').equals(Jid.parse('σ@example.com/foo')));
      assert.ok(!Jid.parse('σ@example.com/foo').equals(Jid.parse('ς@example.com/foo')));
    });

    it('case-folds the localpart and domainpart, not the resourcepart; drops a trailing dot of the domain', () => {
      const jid = Jid.parse('Juliet@Example.COM./Balcony');
      assert.equal(jid.toString(), 'juliet@example.com/Balcony');
      assert.equal(jid.bareString(), 'juliet@example.com');
      assert.equal(jid.bare().toString(), 'juliet@example.com');
    });
  });

  describe('§3.6 invalid JIDs', () => {
    // Not enforced (jid.ts approximates PRECIS with NFKC + case folding): henriⅣ@example.com is mapped to
    // henriiv, and ♚@example.com is accepted, where the IdentifierClass would refuse both.
    const invalid = ['"juliet"@example.com', 'foo bar@example.com', 'juliet@example.com/', '@example.com/', 'juliet@', '/foobar', `${'a'.repeat(1024)}@example.com`, 'juliet@example.com/a\u0007b'];
    for (const input of invalid) {
      it(JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…` : input), () => {
        assert.throws(() => Jid.parse(input), JidError);
        assert.equal(Jid.tryParse(input), undefined);
      });
    }
  });

  describe('parse cache', () => {
    it('returns the same immutable Jid for the same text, and its bare Jid once', () => {
      const a = Jid.parse('romeo@example.net/orchard');
      const b = Jid.parse('romeo@example.net/orchard');
      assert.equal(a, b);
      assert.equal(a.bare(), b.bare());
      assert.equal(a.bare().toString(), 'romeo@example.net');
    });

    it('keeps a JID in use however many others pass, and lets go of those not seen again', () => {
      const used = Jid.parse('nurse@example.com/balcony');
      const once = Jid.parse('tybalt@example.com/street');
      // Many logins come and go (a full JID each), while one address stays in use.
      for (let i = 0; i < 5_000; i++) {
        Jid.parse(`guest${i}@example.com/r${i}`);
        if (i % 500 === 0) assert.equal(Jid.parse('nurse@example.com/balcony'), used);
      }
      assert.equal(Jid.parse('nurse@example.com/balcony'), used);
      const again = Jid.parse('tybalt@example.com/street');
      assert.notEqual(again, once, 'a JID not seen for thousands of parses is parsed anew, not kept');
      assert.ok(again.equals(once));
    });

    it('keeps refusing an invalid JID however often it is seen', () => {
      for (let i = 0; i < 3; i++) assert.throws(() => Jid.parse('"juliet"@example.com'), JidError);
    });

    it('parses inputs too long to cache correctly every time', () => {
      const resource = 'r'.repeat(400);
      const first = Jid.parse(`juliet@example.com/${resource}`);
      const second = Jid.parse(`juliet@example.com/${resource}`);
      assert.notEqual(first, second);
      assert.ok(first.equals(second));
      assert.equal(first.resource, resource);
    });
  });
});
