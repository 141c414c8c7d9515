// XEP-0049 Private XML Storage (version 1.2): a user keeps arbitrary XML fragments on the server,
// each under the name and namespace of its root element (§2), readable and writable only by the
// user (§2.3 "Forbidden"). See README.md for the choices made where the XEP leaves room.
import { StanzaError } from '../../src/errors.js';
import { defineModule } from '../../src/modules/api.js';
import type { Jid } from '../../src/jid.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import './hooks.js';
import { privateXmlStores } from './store/index.js';

/** Namespaces that mean the fragment has none of its own: it would inherit the query's or the stanza's. */
const NOT_ITS_OWN = new Set<string>([NS.privateXml, NS.client]);

interface Fragment {
  element: Element;
  namespace: string;
  /** The store key: "<element name> <namespace>". */
  key: string;
}

/** The query's child elements, each with its own namespace; not-acceptable when one has none (§2.3). */
function fragments(query: Element): Fragment[] {
  const found: Fragment[] = [];
  for (const child of query.children) {
    if (!(child instanceof Element)) continue;
    const namespace = child.getNS();
    if (namespace === undefined || namespace === '' || NOT_ITS_OWN.has(namespace)) {
      throw new StanzaError('not-acceptable', `<${child.getName()}/> needs a namespace of its own`);
    }
    found.push({ element: child, namespace, key: `${child.getName()} ${namespace}` });
  }
  if (found.length === 0) throw new StanzaError('not-acceptable', 'the query must contain an element in a namespace of its own');
  return found;
}

/**
 * The fragment as it is stored: detached from the request, with the namespace declarations it used
 * from the query and the stanza copied onto its root, so the stored text stands alone.
 */
function standalone(fragment: Fragment, ancestors: readonly Element[], withChildren: boolean): Element {
  const copy = new Element(fragment.element.name, { ...fragment.element.attrs });
  for (const ancestor of ancestors) {
    for (const [name, value] of Object.entries(ancestor.attrs)) {
      if (name.startsWith('xmlns:') && copy.attrs[name] === undefined) copy.attrs[name] = value;
    }
  }
  if (!fragment.element.name.includes(':')) copy.attrs.xmlns = fragment.namespace;
  if (withChildren) for (const child of fragment.element.children) copy.cnode(child as Element);
  return copy;
}

export default defineModule({
  name: 'private',
  specs: [{ id: 'XEP-0049', title: 'Private XML Storage', version: '1.2', scope: 'get and set of the own account’s fragments, several per set; reserved namespaces other than jabber:iq:private itself are accepted', status: 'complete' }],
  stores: privateXmlStores,
  setup(ctx) {
    const store = ctx.store;
    // The XEP predates disco; servers advertise the namespace all the same, and clients look for it.
    ctx.addFeature(NS.privateXml);

    ctx.onIq('get', 'self', NS.privateXml, 'query', async ({ payload, stanza, to }) => {
      const wanted = fragments(payload);
      // §2.3: "A client MUST NOT query for more than one namespace in a single IQ get request."
      if (new Set(wanted.map((f) => f.namespace)).size > 1) throw new StanzaError('bad-request', 'ask for one namespace per request');
      const answer = xml('query', { xmlns: NS.privateXml });
      const stored = await Promise.all(wanted.map(async (f) => {
        const text = await store.get(to.local, f.key);
        const element = text === undefined ? undefined : parseElement(text);
        // Another module may keep this fragment in step with data of its own (XEP-0411 bookmarks).
        return (await ctx.fire('private:read', to.local, f.key, element)) ?? element;
      }));
      wanted.forEach((fragment, i) => {
        // Nothing stored yet: the empty element asked for, as servers have always answered.
        answer.cnode(stored[i] ?? standalone(fragment, [payload, stanza], false));
      });
      return answer;
    });

    ctx.onIq('set', 'self', NS.privateXml, 'query', async ({ payload, stanza, to }) => {
      const given = fragments(payload);
      const elements = given.map((f) => standalone(f, [payload, stanza], true));
      await Promise.all(given.map((f, i) => store.set(to.local, f.key, String(elements[i]))));
      for (const [i, f] of given.entries()) {
        const element = elements[i];
        if (element) await ctx.emit('private:stored', to.local, f.key, element);
      }
      return undefined;
    });

    // §2.3: someone else's storage, or the server's, is not the sender's to read or write.
    const forbidden = ({ to }: { to: Jid }): never => {
      throw new StanzaError('forbidden', `${to.toString()} is not your account`);
    };
    for (const type of ['get', 'set'] as const) {
      ctx.onIq(type, 'bare', NS.privateXml, 'query', forbidden);
      ctx.onIq(type, 'host', NS.privateXml, 'query', forbidden);
    }
  },
});
