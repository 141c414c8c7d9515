// One IQ and disco registry for every domain the server hosts (issue #14 item 3): handlers keyed by domain
// and by the kind of addressee (the domain, a bare JID at it, a full JID), found by Map lookups with a
// fallback to ANY_DOMAIN; disco per JID with a provider per domain. Unit tests of both registries, then a
// module serving its own domain on a real server over a raw TCP stream: the router's payload rule (RFC 6120
// §8.2.3), service-unavailable for what nobody handles, disco answered by the disco module, and nothing
// left behind when the module stops.
import assert from 'node:assert/strict';
import { Jid } from '../jid.js';
import { ANY_DOMAIN, IqRegistry, type IqHandler } from '../router/iq-registry.js';
import { xml } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { defineModule } from './api.js';
import { DiscoRegistry } from './disco-registry.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

describe('IQ and disco registries for every hosted domain', () => {
  describe('IqRegistry', () => {
    const a: IqHandler = () => undefined;
    const b: IqHandler = () => undefined;

    it('keys domain targets by domain (normalised at registration) and kind of addressee', () => {
      const iqs = new IqRegistry();
      iqs.register('get', { domain: 'Rooms.Example', to: 'bare' }, 'urn:x', 'q', a);
      assert.equal(iqs.lookup('get', { domain: 'rooms.example', to: 'bare' }, 'urn:x', 'q'), a);
      assert.equal(iqs.lookup('get', { domain: 'rooms.example', to: 'service' }, 'urn:x', 'q'), undefined);
      assert.equal(iqs.lookup('get', { domain: 'other.example', to: 'bare' }, 'urn:x', 'q'), undefined);
      assert.equal(iqs.lookup('set', { domain: 'rooms.example', to: 'bare' }, 'urn:x', 'q'), undefined);
      // The server's own targets are apart from any domain's.
      assert.equal(iqs.lookup('get', 'bare', 'urn:x', 'q'), undefined);
      assert.throws(() => iqs.register('get', { domain: 'rooms.example', to: 'bare' }, 'urn:x', 'q', b), /two handlers/);
    });

    it('falls back from a domain to ANY_DOMAIN, and a domain of its own wins', () => {
      const iqs = new IqRegistry();
      const undo = iqs.register('get', { domain: ANY_DOMAIN, to: 'service' }, 'urn:x', 'q', a);
      assert.equal(iqs.lookup('get', { domain: 'rooms.example', to: 'service' }, 'urn:x', 'q'), a);
      assert.equal(iqs.lookup('get', { domain: 'rooms.example', to: 'bare' }, 'urn:x', 'q'), undefined);
      assert.equal(iqs.lookup('get', 'host', 'urn:x', 'q'), undefined);
      iqs.register('get', { domain: 'rooms.example', to: 'service' }, 'urn:x', 'q', b);
      assert.equal(iqs.lookup('get', { domain: 'rooms.example', to: 'service' }, 'urn:x', 'q'), b);
      undo();
      assert.equal(iqs.lookup('get', { domain: 'elsewhere.example', to: 'service' }, 'urn:x', 'q'), undefined);
    });
  });

  describe('DiscoRegistry', () => {
    const from = Jid.parse('juliet@localhost/balcony');

    it('keeps entries per JID; a JID nothing was registered for is unknown (undefined)', async () => {
      const disco = new DiscoRegistry();
      const undo = disco.addFeature('urn:b', 'svc.localhost');
      disco.addFeature('urn:a', 'svc.localhost');
      disco.addIdentity({ category: 'conference', type: 'text' }, 'svc.localhost');
      disco.addFeature('urn:server', 'localhost');
      assert.deepEqual(disco.listFeatures('svc.localhost'), ['urn:a', 'urn:b']);
      assert.deepEqual(disco.listFeatures('localhost'), ['urn:server']);
      assert.deepEqual(await disco.info({ to: Jid.parse('svc.localhost'), from }), { identities: [{ category: 'conference', type: 'text' }], features: ['urn:a', 'urn:b'] });
      assert.equal(await disco.info({ to: Jid.parse('nothing.localhost'), from }), undefined);
      // A registered JID without a node answers; with a node, only a provider may.
      assert.equal(await disco.info({ to: Jid.parse('svc.localhost'), from, node: 'n' }), undefined);
      assert.deepEqual(await disco.items({ to: Jid.parse('svc.localhost'), from }), []);
      undo();
      assert.deepEqual(disco.listFeatures('svc.localhost'), ['urn:a']);
    });

    it('asks the domain provider, merging what it gives with what is registered for the JID', async () => {
      const disco = new DiscoRegistry();
      disco.addFeature('urn:registered', 'svc.localhost');
      disco.addItem({ jid: 'static@svc.localhost' }, 'svc.localhost');
      const undo = disco.addProvider('svc.localhost', {
        info: ({ to, node }) => (to.local === 'room' ? { identities: [{ category: 'conference', type: 'text', name: node ?? 'room' }], features: ['urn:room', 'urn:registered'] } : undefined),
        items: ({ to }) => (to.local === '' ? [{ jid: 'room@svc.localhost' }] : undefined),
      });
      assert.deepEqual(await disco.info({ to: Jid.parse('room@svc.localhost'), from, node: 'x' }), { identities: [{ category: 'conference', type: 'text', name: 'x' }], features: ['urn:room', 'urn:registered'] });
      assert.deepEqual(await disco.info({ to: Jid.parse('svc.localhost'), from }), { identities: [], features: ['urn:registered'] });
      assert.deepEqual(await disco.items({ to: Jid.parse('svc.localhost'), from }), [{ jid: 'static@svc.localhost' }, { jid: 'room@svc.localhost' }]);
      assert.equal(await disco.info({ to: Jid.parse('other@svc.localhost'), from }), undefined);
      assert.throws(() => disco.addProvider('svc.localhost', {}), /two disco providers/);
      undo();
      assert.equal(await disco.info({ to: Jid.parse('room@svc.localhost'), from }), undefined);
    });
  });

  describe('a module serving a domain of its own, on a real server', () => {
    const DOMAIN = 'echo.localhost';
    let server: TestServer;
    let romeo: RawStream;

    const echo = defineModule({
      name: 'echo-domain',
      specs: [],
      depends: ['disco'],
      setup(ctx) {
        ctx.addDomain(DOMAIN, async (stanza, from) => {
          if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) await ctx.dispatchIq(stanza, from);
        });
        ctx.onIq('get', { domain: DOMAIN, to: 'bare' }, 'urn:example:echo', 'echo', ({ payload, to }) => xml('echo', { xmlns: 'urn:example:echo', to: to.toString(), said: payload.attrs.say }));
        ctx.onIq('get', { domain: DOMAIN, to: 'service' }, NS.ping, 'ping', () => undefined);
        ctx.addIdentity({ category: 'component', type: 'generic', name: 'Echo' }, DOMAIN);
        ctx.addFeature('urn:example:echo', DOMAIN);
        ctx.addDiscoProvider(DOMAIN, { info: ({ to }) => (to.local === 'parrot' ? { identities: [{ category: 'client', type: 'bot' }], features: ['urn:example:echo'] } : undefined) });
      },
    });

    before(async () => {
      server = await startTestServer({ c2s: { requireTls: false } });
      await server.addUser('romeo', 'montague');
      ({ stream: romeo } = await rawLogin(server.ports.c2s, 'romeo', 'montague', 'orchard'));
      await server.server.modules.start(echo);
    });
    after(async () => {
      romeo?.destroy();
      await server?.stop();
    });

    const ask = async (stanza: string): Promise<string> => {
      romeo.write(stanza);
      return (await romeo.element('iq')).toString();
    };
    const condition = (answer: string): string | undefined => answer.match(new RegExp(`<([a-z-]+) xmlns="${STANZAS}"/>`))?.[1];

    it('answers an iq to a bare JID of the domain from the handler registered for it', async () => {
      const answer = await ask(`<iq type='get' id='e1' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo' say='hi'/></iq>`);
      assert.match(answer, /^<iq [^>]*type="result"/, answer);
      assert.match(answer, new RegExp(`from="parrot@${DOMAIN}"`));
      assert.match(answer, new RegExp(`<echo xmlns="urn:example:echo" to="parrot@${DOMAIN}" said="hi"/>`));
      const pinged = await ask(`<iq type='get' id='e2' to='${DOMAIN}'><ping xmlns='${NS.ping}'/></iq>`);
      assert.match(pinged, /^<iq [^>]*type="result"/, pinged);
    });

    it('applies the router rule for the payload (RFC 6120 §8.2.3): none or two children are bad-request', async () => {
      assert.equal(condition(await ask(`<iq type='get' id='e3' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo'/><echo xmlns='urn:example:echo'/></iq>`)), 'bad-request');
      assert.equal(condition(await ask(`<iq type='get' id='e4' to='parrot@${DOMAIN}'/>`)), 'bad-request');
    });

    it('what no handler claims is service-unavailable: another payload, another kind of addressee, another type', async () => {
      assert.equal(condition(await ask(`<iq type='get' id='e5' to='parrot@${DOMAIN}'><query xmlns='jabber:iq:version'/></iq>`)), 'service-unavailable');
      assert.equal(condition(await ask(`<iq type='get' id='e6' to='${DOMAIN}'><echo xmlns='urn:example:echo'/></iq>`)), 'service-unavailable');
      assert.equal(condition(await ask(`<iq type='get' id='e7' to='parrot@${DOMAIN}/feathers'><echo xmlns='urn:example:echo'/></iq>`)), 'service-unavailable');
      assert.equal(condition(await ask(`<iq type='set' id='e8' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo'/></iq>`)), 'service-unavailable');
    });

    it('the disco module answers for the domain and its JIDs: registered entries and the provider; unknown JIDs are item-not-found', async () => {
      const info = await ask(`<iq type='get' id='d1' to='${DOMAIN}'><query xmlns='${NS.discoInfo}'/></iq>`);
      assert.match(info, /<identity category="component" type="generic" name="Echo"\/><feature var="urn:example:echo"\/>/, info);
      const parrot = await ask(`<iq type='get' id='d2' to='parrot@${DOMAIN}'><q:query xmlns:q='${NS.discoInfo}'/></iq>`);
      assert.match(parrot, /<identity category="client" type="bot"\/><feature var="urn:example:echo"\/>/, parrot);
      assert.equal(condition(await ask(`<iq type='get' id='d3' to='nobody@${DOMAIN}'><query xmlns='${NS.discoInfo}'/></iq>`)), 'item-not-found');
      assert.equal(condition(await ask(`<iq type='get' id='d4' to='${DOMAIN}'><query xmlns='${NS.discoInfo}' node='n'/></iq>`)), 'item-not-found');
      const items = await ask(`<iq type='get' id='d5' to='${DOMAIN}'><query xmlns='${NS.discoItems}'/></iq>`);
      assert.match(items, new RegExp(`<query xmlns="${NS.discoItems}"/>`), items);
    });

    it('stopping the module takes its handlers and disco away (positive control first)', async () => {
      assert.match(await ask(`<iq type='get' id='s1' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo'/></iq>`), /type="result"/);
      await server.server.modules.stop('echo-domain');
      assert.equal(condition(await ask(`<iq type='get' id='s2' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo'/></iq>`)), 'remote-server-not-found');
      assert.deepEqual(server.server.disco.listFeatures(DOMAIN), []);
      assert.equal(await server.server.disco.info({ to: Jid.parse(`parrot@${DOMAIN}`), from: Jid.parse('romeo@localhost') }), undefined);
      await server.server.modules.start(echo);
      assert.match(await ask(`<iq type='get' id='s3' to='parrot@${DOMAIN}'><echo xmlns='urn:example:echo'/></iq>`), /type="result"/);
    });
  });
});
