// Serialises an element as ltx's Element#toString does (attributes in double quotes, the same escaping), for the hot
// path: pieces are appended to one string instead of going through a writer callback each, and a value is escaped
// only when it holds something to escape. One difference, on purpose: tab, newline and carriage return inside an
// attribute value are written as character references. A reader must turn each of them into a space when it finds
// it as is (XML 1.0 §3.3.3), so ltx's way turned a client's `&#10;` into a space on the way to the recipient.
// element.ts makes every Element#toString write through serialize().
import { Element, escapeXMLText } from 'ltx';

const ATTR_SPECIAL = /["&'<>\t\n\r]/;
const ATTR_SPECIALS = /["&'<>\t\n\r]/g;
const TEXT_SPECIAL = /[&<>]/;
const ATTR_REFERENCES: Readonly<Record<string, string>> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/** An attribute value escaped for either quote character (XML 1.0 §2.3, §3.3.3). */
export function escapeAttr(value: string): string {
  return value.replace(ATTR_SPECIALS, (c) => ATTR_REFERENCES[c] ?? c);
}

/** ltx's own Element#write, before element.ts replaces it: kept for the tests that compare with ltx. */
export const ltxWrite = Element.prototype.write;

/** Element#write for every element: the text serialize() gives. */
export function writeElement(this: Element, writer: (part: string) => void): void {
  writer(serialize(this));
}

function writes(value: unknown): value is { write(writer: (part: string) => void): void } {
  return typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function';
}

export function serialize(element: Element): string {
  return append('', element);
}

function append(text: string, element: Element): string {
  let out = `${text}<${element.name}`;
  const attrs: Record<string, unknown> = element.attrs;
  for (const name in attrs) {
    const value = attrs[name];
    if (value === null || value === undefined) continue;
    const s = typeof value === 'string' ? value : String(value);
    out += ` ${name}="${ATTR_SPECIAL.test(s) ? escapeAttr(s) : s}"`;
  }
  const children: readonly unknown[] = element.children;
  if (children.length === 0) return `${out}/>`;
  out += '>';
  for (const child of children) {
    if (child === null || child === undefined) continue;
    if (typeof child === 'string') out += TEXT_SPECIAL.test(child) ? escapeXMLText(child) : child;
    else if (child instanceof Element && (child.write === writeElement || child.write === ltxWrite)) out = append(out, child);
    else if (writes(child)) child.write((part) => (out += part)); // writes itself, as ltx lets it
    else out += escapeXMLText(String(child));
  }
  return `${out}</${element.name}>`;
}
