// XEP-0357 §5: the publish-options form a client may put in <enable/> (XEP-0004, FORM_TYPE of XEP-0060
// §7.1.5), and §7: the summary form of a notification (FORM_TYPE urn:xmpp:push:summary).
import { StanzaError } from '../../src/errors.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/**
 * Our field in the client's form: true asks for message bodies in notifications (allowed by [push]
 * include_body = "requested"). It is ours, not the app server's, so it is not forwarded.
 */
export const INCLUDE_BODY_FIELD = 'include-body';

export interface EnableOptions {
  /** The form forwarded as <publish-options/> with every publish, serialised; none when the client gave none. */
  readonly options?: string;
  readonly includeBody: boolean;
}

const bad = (text: string): StanzaError => new StanzaError('bad-request', text);

/** XEP-0004 §3.3 boolean. */
function parseBoolean(value: string, field: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw bad(`the field ${field} takes a boolean (true, false, 1 or 0), not "${value}"`);
}

function values(field: Element): string[] {
  return field.getChildren('value').map((v) => v.text());
}

/** The content of <enable/>: nothing, or one publish-options form of type submit (§5). */
export function parseEnableOptions(enable: Element): EnableOptions {
  const children = enable.children.filter((c): c is Element => c instanceof Element);
  if (enable.children.some((c) => typeof c === 'string' && c.trim() !== '')) throw bad('<enable/> holds only a data form');
  if (children.length === 0) return { includeBody: false };
  const [form] = children;
  if (children.length > 1 || !form || form.name !== 'x' || form.attrs.xmlns !== NS.dataForms) {
    throw bad('<enable/> holds at most one jabber:x:data form (XEP-0357 §5)');
  }
  if (form.attrs.type !== 'submit') throw bad(`the publish-options form is of type submit, not "${form.attrs.type ?? ''}"`);
  const forwarded: string[] = [];
  const seen = new Set<string>();
  let formType: string | undefined;
  let includeBody = false;
  for (const child of form.children) {
    if (!(child instanceof Element)) continue;
    if (child.name !== 'field') throw bad(`a submitted form holds only fields, not <${child.name}/>`);
    const name = child.attrs.var;
    if (!name) throw bad("every field of a submitted form has a 'var' (XEP-0004 §3.2)");
    if (seen.has(name)) throw bad(`the field ${name} is given twice`);
    seen.add(name);
    const given = values(child);
    if (name === 'FORM_TYPE') formType = given[0];
    if (name === INCLUDE_BODY_FIELD) {
      if (given.length !== 1 || given[0] === undefined) throw bad(`the field ${name} takes one value`);
      includeBody = parseBoolean(given[0], name);
      continue;
    }
    forwarded.push(child.toString());
  }
  if (formType !== NS.pubsubPublishOptions) throw bad(`the form's FORM_TYPE is ${NS.pubsubPublishOptions} (XEP-0357 §5)`);
  return { options: `<x xmlns="${NS.dataForms}" type="submit">${forwarded.join('')}</x>`, includeBody };
}

/** What a notification tells the app server (§7). */
export interface Summary {
  readonly count: number;
  readonly sender?: string;
  readonly body?: string;
}

const field = (name: string, value: string): Element => xml('field', { var: name }, xml('value', {}, value));

/** <notification/> with the summary form: only the fields that have a value. */
export function notification(summary: Summary): Element {
  const form = xml('x', { xmlns: NS.dataForms, type: 'submit' }, field('FORM_TYPE', NS.pushSummary), field('message-count', String(summary.count)));
  if (summary.sender !== undefined) form.cnode(field('last-message-sender', summary.sender));
  if (summary.body !== undefined) form.cnode(field('last-message-body', summary.body));
  return xml('notification', { xmlns: NS.push }, form);
}
