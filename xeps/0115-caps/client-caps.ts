// XEP-0115 §6.3-§6.4 and §8.1-§8.4 for other entities: the caps that local clients put in their broadcast
// presence, resolved to features once per verification string by a disco#info to a client that advertised it
// (on '<node>#<ver>'), checked against the string (§5.4) and cached for every client with that ver. Modules
// ask for a resource's features ('caps:features') and hear when they become known ('caps:resolved').
import type { BoundSession, ModuleContext } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { CapsForm, CapsIdentity } from './ver.js';
import { verificationString } from './ver.js';
import './hooks.js';

/** Verification strings remembered; beyond this the oldest is forgotten (and asked again when seen). */
const MAX_CACHED_VERS = 10_000;
const DISCO_TIMEOUT_MS = 10_000;

interface Advertised {
  node: string;
  ver: string;
  hash: string;
}

function advertised(presence: Element): Advertised | undefined {
  const c = presence.getChild('c', NS.caps);
  const { node, ver, hash } = c?.attrs ?? {};
  if (typeof node !== 'string' || typeof ver !== 'string' || typeof hash !== 'string' || node === '' || ver === '') return undefined;
  return { node, ver, hash };
}

/** §5.4 step 3: the parts of a disco#info answer the verification string is computed over. */
function parseInfo(query: Element): { identities: CapsIdentity[]; features: string[]; forms: CapsForm[] } {
  const identities = query.getChildren('identity').map((i) => ({
    category: String(i.attrs.category ?? ''),
    type: String(i.attrs.type ?? ''),
    ...(i.attrs['xml:lang'] === undefined ? {} : { lang: String(i.attrs['xml:lang']) }),
    ...(i.attrs.name === undefined ? {} : { name: String(i.attrs.name) }),
  }));
  const features = query.getChildren('feature').map((f) => String(f.attrs.var ?? ''));
  const forms: CapsForm[] = [];
  for (const x of query.getChildren('x', NS.dataForms)) {
    const fields = x.getChildren('field').map((f) => ({ var: String(f.attrs.var ?? ''), values: f.getChildren('value').map((v) => v.text()) }));
    const formType = fields.find((f) => f.var === 'FORM_TYPE')?.values[0];
    if (formType !== undefined) forms.push({ formType, fields });
  }
  return { identities, features, forms };
}

export function setupClientCaps(ctx: ModuleContext): void {
  /** ver -> features, for verified sha-1 strings only (§5.4 step 3.8: others are not cached). */
  const cache = new Map<string, ReadonlySet<string>>();
  /** ver -> the disco#info already asked, so many clients with one ver cost one query. */
  const asking = new Map<string, Promise<ReadonlySet<string> | undefined>>();
  /** full JID -> its ver and, once known, its features. */
  const resources = new Map<string, { ver: string; features?: ReadonlySet<string> }>();

  const remember = (ver: string, features: ReadonlySet<string>): void => {
    if (cache.size >= MAX_CACHED_VERS) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(ver, features);
  };

  const resolve = async (session: BoundSession, caps: Advertised): Promise<ReadonlySet<string> | undefined> => {
    const cached = cache.get(caps.ver);
    if (cached) return cached;
    const pending = asking.get(caps.ver);
    if (pending) return pending;
    const query = (async (): Promise<ReadonlySet<string> | undefined> => {
      try {
        const iq = xml('iq', { type: 'get', to: session.jid.toString() }, xml('query', { xmlns: NS.discoInfo, node: `${caps.node}#${caps.ver}` }));
        const answer = (await ctx.sendIq(iq, DISCO_TIMEOUT_MS)).getChild('query', NS.discoInfo);
        if (answer === undefined) return undefined;
        const info = parseInfo(answer);
        const features = new Set(info.features);
        // §5.4 step 3.7-3.8: a string that does not match what the client answers is not cached (nor trusted for others).
        if (caps.hash === 'sha-1' && verificationString(info.identities, info.features, info.forms) === caps.ver) remember(caps.ver, features);
        else ctx.log.debug({ jid: session.jid.toString(), ver: caps.ver }, 'caps not verified: used for this resource only');
        return features;
      } catch (err) {
        ctx.log.debug({ err, jid: session.jid.toString() }, 'caps disco#info failed');
        return undefined;
      } finally {
        asking.delete(caps.ver);
      }
    })();
    asking.set(caps.ver, query);
    return query;
  };

  ctx.hook('presence:broadcast', (session, stanza) => {
    const full = session.jid.toString();
    if (stanza.attrs.type === 'unavailable') {
      resources.delete(full);
      return;
    }
    const caps = advertised(stanza);
    if (caps === undefined || resources.get(full)?.ver === caps.ver) return;
    const entry: { ver: string; features?: ReadonlySet<string> } = { ver: caps.ver };
    resources.set(full, entry);
    void resolve(session, caps).then((features) => {
      if (features === undefined || resources.get(full) !== entry) return;
      entry.features = features;
      void ctx.emit('caps:resolved', session, features);
    });
  });

  ctx.hook('session:closed', (session) => {
    resources.delete(session.jid.toString());
  });

  ctx.hook('caps:features', (fullJid) => resources.get(fullJid)?.features);
}
