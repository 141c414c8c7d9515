// XEP-0280 §6 and §9, message by message: which messages are copied, sent and received.
import assert from 'node:assert/strict';
import { parseElement } from '../../src/xml/element.js';
import { isEligible, type Direction } from './rules.js';

const cases: ReadonlyArray<readonly [what: string, xml: string, sent: boolean, received: boolean]> = [
  ['chat with a body', `<message type='chat'><body>hi</body></message>`, true, true],
  ['chat without a body (a chat state)', `<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`, true, true],
  ['normal with a body', `<message><body>hi</body></message>`, true, true],
  ['type normal written out, with a body', `<message type='normal'><body>hi</body></message>`, true, true],
  ['normal without a body or IM payload', `<message><subject>s</subject></message>`, false, false],
  ['normal with a chat state', `<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, true, true],
  ['normal with a receipt request', `<message><request xmlns='urn:xmpp:receipts'/></message>`, true, true],
  ['normal with a receipt', `<message><received xmlns='urn:xmpp:receipts' id='x'/></message>`, true, true],
  ['normal with a chat marker', `<message><displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>`, true, true],
  ['normal with another payload only', `<message><event xmlns='http://jabber.org/protocol/pubsub#event'/></message>`, false, false],
  ['groupchat', `<message type='groupchat'><body>hi</body></message>`, false, false],
  ['headline', `<message type='headline'><body>news</body></message>`, false, false],
  ['error', `<message type='error'><body>hi</body><error type='cancel'/></message>`, false, false],
  ['unknown type (treated as normal by the router, not here)', `<message type='whisper'><body>hi</body></message>`, false, false],
  ['<private/>', `<message type='chat'><body>hi</body><private xmlns='urn:xmpp:carbons:2'/></message>`, false, false],
  ['<no-copy/>', `<message type='chat'><body>hi</body><no-copy xmlns='urn:xmpp:hints'/></message>`, false, false],
  ['a <private/> of another namespace', `<message type='chat'><body>hi</body><private xmlns='urn:example'/></message>`, true, true],
  ['MUC private message (muc#user x)', `<message type='chat'><body>psst</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>`, true, false],
  ['mediated invitation', `<message><x xmlns='http://jabber.org/protocol/muc#user'><invite from='a@b'/></x></message>`, true, true],
  ['direct invitation (XEP-0249)', `<message><x xmlns='jabber:x:conference' jid='room@conference.localhost'/></message>`, true, true],
];

describe('XEP-0280 §6, §9: messages eligible for Carbons', function () {
  for (const [what, text, sent, received] of cases) {
    it(`${what}: ${sent ? '' : 'not '}copied when sent, ${received ? '' : 'not '}when received`, function () {
      const message = parseElement(text);
      const verdict = (direction: Direction): boolean => isEligible(message, direction);
      assert.deepEqual({ sent: verdict('sent'), received: verdict('received') }, { sent, received });
    });
  }
});
