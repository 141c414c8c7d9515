// XEP-0313 §4 queries: the data form filters (§4.1: with, start, end; #extended: before-id, after-id, ids),
// XEP-0059 paging (§4.2: max, after, before, an empty <before/> for the last page), the results as
// <result/> messages and the <fin/> (§4.3). Time filters become id bounds (ids are time-ordered).
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { idFloor } from './ids.js';
import type { ArchivedMessage, ArchivePage, ArchiveQuery, ArchiveStore } from './store/types.js';

const FIELDS = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids']);
const MAX_IDS = 1000;
/** XEP-0082 DateTime. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export interface ParsedQuery {
  readonly queryId?: string;
  readonly with?: Jid;
  readonly start?: number;
  readonly end?: number;
  readonly beforeId?: string;
  readonly afterId?: string;
  readonly ids?: readonly string[];
  /** XEP-0059: undefined when the client set none. */
  readonly max?: number;
  readonly rsmAfter?: string;
  /** '' for an empty <before/> (the last page). */
  readonly rsmBefore?: string;
}

function parseDate(field: string, value: string): number {
  const ms = DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new StanzaError('bad-request', `${field}: "${value}" is not an XEP-0082 date and time (e.g. 2026-01-31T12:00:00Z)`);
  return ms;
}

function single(field: string, values: readonly string[]): string {
  if (values.length !== 1 || values[0] === undefined) throw new StanzaError('bad-request', `field "${field}" takes one value`);
  return values[0];
}

/** Reads the <query/>; bad-request for an unknown field, a bad date, JID or number. */
export function parseQuery(query: Element): ParsedQuery {
  const out: { -readonly [K in keyof ParsedQuery]: ParsedQuery[K] } = {};
  if (query.attrs.queryid !== undefined) out.queryId = query.attrs.queryid;
  if (query.attrs.node !== undefined) throw new StanzaError('item-not-found', `no archive node "${query.attrs.node}"`);
  const form = query.getChild('x', NS.dataForms);
  if (form !== undefined) {
    if (form.attrs.type !== undefined && form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'the query form must be of type "submit"');
    for (const field of form.getChildren('field')) {
      const name = field.attrs.var ?? '';
      const values = field.getChildren('value').map((v) => v.getText());
      if (!FIELDS.has(name)) throw new StanzaError('bad-request', `unknown field "${name}" (known: ${[...FIELDS].join(', ')})`);
      if (name === 'FORM_TYPE') {
        if (single(name, values) !== NS.mam) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS.mam}`);
      } else if (name === 'with') {
        const jid = Jid.tryParse(single(name, values).trim());
        if (jid === undefined) throw new StanzaError('bad-request', `with: "${values[0] ?? ''}" is not a JID`);
        out.with = jid;
      } else if (name === 'start') out.start = parseDate(name, single(name, values).trim());
      else if (name === 'end') out.end = parseDate(name, single(name, values).trim());
      else if (name === 'before-id') out.beforeId = single(name, values).trim();
      else if (name === 'after-id') out.afterId = single(name, values).trim();
      else {
        if (values.length > MAX_IDS) throw new StanzaError('policy-violation', `at most ${MAX_IDS} ids in one query`, 'modify');
        out.ids = values.map((v) => v.trim());
      }
    }
  }
  const set = query.getChild('set', NS.rsm);
  if (set !== undefined) {
    const max = set.getChild('max');
    if (max !== undefined) {
      const text = max.getText().trim();
      if (!/^\d{1,9}$/.test(text)) throw new StanzaError('bad-request', `<max/>: "${text}" is not a non-negative integer`);
      out.max = Number(text);
    }
    if (set.getChild('index') !== undefined) throw new StanzaError('feature-not-implemented', 'XEP-0059 <index/> is not supported; page with <before/> and <after/>');
    const after = set.getChild('after');
    if (after !== undefined) out.rsmAfter = after.getText().trim();
    const before = set.getChild('before');
    if (before !== undefined) out.rsmBefore = before.getText().trim();
    if (out.rsmAfter !== undefined && out.rsmBefore !== undefined && out.rsmBefore === '') throw new StanzaError('bad-request', 'an empty <before/> cannot go with <after/>');
  }
  return out;
}

const highest = (a: string | undefined, b: string | undefined): string | undefined => (a === undefined ? b : b === undefined || a > b ? a : b);
const lowest = (a: string | undefined, b: string | undefined): string | undefined => (a === undefined ? b : b === undefined || a < b ? a : b);

/** Runs a parsed query on `owner`'s archive: item-not-found for an id (after-id, before-id, RSM) it does not hold. */
export async function runQuery(store: ArchiveStore, owner: string, parsed: ParsedQuery, maxPage: number): Promise<ArchivePage> {
  for (const id of [parsed.afterId, parsed.beforeId, parsed.rsmAfter, parsed.rsmBefore]) {
    if (id !== undefined && id !== '' && !(await store.has(owner, id))) throw new StanzaError('item-not-found', `no message "${id}" in this archive`);
  }
  let after = highest(parsed.afterId, parsed.rsmAfter);
  let before = lowest(parsed.beforeId, parsed.rsmBefore === '' ? undefined : parsed.rsmBefore);
  // start: ids of that millisecond and later (each is longer than, so greater than, the prefix); end: inclusive.
  if (parsed.start !== undefined) after = highest(after, idFloor(parsed.start - 1) + '~');
  if (parsed.end !== undefined) before = lowest(before, idFloor(Math.floor(parsed.end) + 1));
  const query: ArchiveQuery = {
    owner,
    max: Math.min(parsed.max ?? maxPage, maxPage),
    from: parsed.rsmBefore !== undefined ? 'last' : 'first',
    ...(after === undefined ? {} : { after }),
    ...(before === undefined ? {} : { before }),
    ...(parsed.with === undefined ? {} : { with: parsed.with.toString(), withFull: !parsed.with.isBare }),
    ...(parsed.ids === undefined ? {} : { ids: parsed.ids }),
  };
  return store.query(query);
}

/** §4.2: one <result/> message. The stored stanza is the server's own serialisation. */
export function resultMessage(message: ArchivedMessage, archiveJid: string, to: string, queryId: string | undefined): Element {
  const forwarded = parseElement(message.stanza);
  return xml(
    'message',
    { from: archiveJid, to, id: `${message.id}-r` },
    xml(
      'result',
      { xmlns: NS.mam, queryid: queryId, id: message.id },
      xml('forwarded', { xmlns: NS.forward }, xml('delay', { xmlns: NS.delay, stamp: new Date(message.timestamp).toISOString() }), forwarded),
    ),
  );
}

/** §4.3: <fin/> with XEP-0059 first and last. */
export function finElement(page: ArchivePage): Element {
  const first = page.messages[0];
  const last = page.messages[page.messages.length - 1];
  const set = xml('set', { xmlns: NS.rsm });
  if (first !== undefined && last !== undefined) {
    set.cnode(xml('first', {}, first.id));
    set.cnode(xml('last', {}, last.id));
  }
  return xml('fin', { xmlns: NS.mam, complete: page.complete ? 'true' : 'false' }, set);
}

/** §4.1.1: the form a client gets with an iq get, listing the fields this archive takes. */
export function queryForm(): Element {
  const field = (v: string, type: string, value?: string): Element => xml('field', { var: v, type }, value === undefined ? undefined : xml('value', {}, value));
  return xml(
    'query',
    { xmlns: NS.mam },
    xml(
      'x',
      { xmlns: NS.dataForms, type: 'form' },
      field('FORM_TYPE', 'hidden', NS.mam),
      field('with', 'jid-single'),
      field('start', 'text-single'),
      field('end', 'text-single'),
      field('before-id', 'text-single'),
      field('after-id', 'text-single'),
      field('ids', 'text-multi'),
    ),
  );
}
