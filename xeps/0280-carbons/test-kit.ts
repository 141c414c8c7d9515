// Helpers for the XEP-0280 tests: recognising carbon copies and awaiting absences after a positive control.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import type { TestClient } from '../../test/support/clients.js';

export const CARBONS = 'urn:xmpp:carbons:2';
export const FORWARD = 'urn:xmpp:forward:0';
/** How long an absence is awaited once its positive control has arrived after it. */
const QUIET_MS = 150;

/** The message forwarded inside a carbon copy of `direction` whose original has `id`. */
export function carbonOf(direction: 'sent' | 'received', id: string): (s: Element) => boolean {
  return (s) => s.is('message') && s.getChild(direction, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message')?.attrs.id === id;
}

export function forwarded(carbon: Element, direction: 'sent' | 'received'): Element {
  const inner = carbon.getChild(direction, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message');
  assert.ok(inner, `no forwarded message in ${carbon.toString()}`);
  return inner;
}

export const isMessage =
  (id: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs.id === id && !s.getChild('sent', CARBONS) && !s.getChild('received', CARBONS);

/** Asserts that nothing matching arrives (call it after a positive control that was sent later has arrived). */
export async function nothing(client: TestClient, match: (s: Element) => boolean, what: string): Promise<void> {
  const got = await client.next(match, QUIET_MS).then(
    (s) => s,
    () => undefined,
  );
  assert.equal(got, undefined, `${what}: ${got?.toString() ?? ''}`);
}

export async function enable(client: TestClient, on = true): Promise<void> {
  await client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml(on ? 'enable' : 'disable', { xmlns: CARBONS })));
}

export const chat = (to: string, id: string, body: string, ...extra: Element[]): Element => xml('message', { to, type: 'chat', id }, xml('body', {}, body), ...extra);
