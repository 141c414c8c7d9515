// The element model is ltx's (xmppjs/ltx): small, fast, and the one xmpp.js uses.
import { Element, escapeXMLText, parse } from 'ltx';
import { escapeAttr, writeElement } from './serialize.js';

// Element#toString (and every ltx writer) goes through serialize(), so that what is stored, routed between
// nodes or sent over BOSH is escaped as the TCP and WebSocket output is (serialize.ts says where ltx differs).
Element.prototype.write = writeElement;

export { Element, escapeAttr };
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

export const escapeText = escapeXMLText;

/** A shallow copy of `stanza` addressed to `to` (the children are shared): one recipient's copy of a fan-out. */
export function readdressed(stanza: Element, to: string): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs, to });
  copy.children = stanza.children;
  return copy;
}

/** Parses one element the server serialised itself (stored stanzas); never use it on data from the wire. */
export function parseElement(text: string): Element {
  return parse(text);
}
