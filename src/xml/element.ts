// The element model is ltx's (xmppjs/ltx): small, fast, and the one xmpp.js uses.
import { Element, escapeXML, escapeXMLText, parse } from 'ltx';

export { Element };
export type Attrs = Record<string, string>;
type Child = Element | string | undefined | null | false;

/** Builds an element: xml('iq', { type: 'result' }, xml('query', { xmlns })) */
export function xml(name: string, attrs?: Record<string, string | number | undefined> | null, ...children: Child[]): Element {
  const clean: Attrs = {};
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = String(v);
  const el = new Element(name, clean);
  for (const child of children) if (child !== undefined && child !== null && child !== false) el.cnode(child as Element);
  return el;
}

export const escapeAttr = escapeXML;
export const escapeText = escapeXMLText;

/** Parses one element the server serialised itself (stored stanzas); never use it on data from the wire. */
export function parseElement(text: string): Element {
  return parse(text);
}
