// Serialises an element to exactly the text ltx's Element#toString gives (attributes in double quotes, the same
// escaping), for the hot path: pieces are appended to one string instead of going through a writer callback each,
// and a value is escaped only when it holds something to escape.
import { Element, escapeXML, escapeXMLText } from 'ltx';

const ATTR_SPECIAL = /["&'<>]/;
const TEXT_SPECIAL = /[&<>]/;
const plainWrite = Element.prototype.write;

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
    out += ` ${name}="${ATTR_SPECIAL.test(s) ? escapeXML(s) : s}"`;
  }
  const children: readonly unknown[] = element.children;
  if (children.length === 0) return `${out}/>`;
  out += '>';
  for (const child of children) {
    if (child === null || child === undefined) continue;
    if (typeof child === 'string') out += TEXT_SPECIAL.test(child) ? escapeXMLText(child) : child;
    else if (child instanceof Element && child.write === plainWrite) out = append(out, child);
    else if (writes(child)) child.write((part) => (out += part)); // writes itself, as ltx lets it
    else out += escapeXMLText(String(child));
  }
  return `${out}</${element.name}>`;
}
