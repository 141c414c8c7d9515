// XEP-0045 §10.1.3, §10.2 and §16.5.3: a room's configuration (the muc#roomconfig FORM_TYPE), its defaults,
// the XEP-0004 Data Form an owner reads and submits, and the form kept in the store. Also the service limits
// read from the [muc] configuration table.
import { StanzaError } from '../../src/errors.js';
import type { RoomConfigValue } from './store/types.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { MucSettings } from './settings.js';

/** §5.1: the roles of an occupant ('none' is the absence of one: not in the room). */
export type PresentRole = 'moderator' | 'participant' | 'visitor';
export type Role = PresentRole | 'none';
export const PRESENT_ROLES: readonly PresentRole[] = ['moderator', 'participant', 'visitor'];

/** §10.1.3: who may discover occupants' real JIDs; 'anyone' makes the room non-anonymous. */
export type Whois = 'moderators' | 'anyone';
/** §7.5 and §16.5.3 muc#roomconfig_allowpm: who may send private messages. */
export type AllowPm = 'anyone' | 'participants' | 'moderators' | 'none';

/** The limits a room enforces: the [muc] settings but the service's domain. */
export type MucLimits = Omit<MucSettings, 'domain'>;

export function limitsFrom(settings: MucSettings): MucLimits {
  const { maxOccupants, maxRoomsPerUser, maxHistory, historyMaxChars, messageRate, messageBurst } = settings;
  return { maxOccupants, maxRoomsPerUser, maxHistory, historyMaxChars, messageRate, messageBurst };
}

export interface RoomConfig {
  name: string;
  description: string;
  language: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  passwordProtected: boolean;
  password: string;
  whois: Whois;
  /** Most occupants; never above the service's max_occupants. */
  maxUsers: number;
  changeSubject: boolean;
  allowInvites: boolean;
  allowPm: AllowPm;
  presenceBroadcast: PresentRole[];
  getMemberList: PresentRole[];
  /** muc#maxhistoryfetch: most history messages sent on entry; never above the service's max_history. */
  maxHistory: number;
}

/** The configuration of a new room (§10.1.2, an instant room): open, unmoderated, semi-anonymous, temporary. */
export function defaultRoomConfig(limits: MucLimits): RoomConfig {
  return {
    name: '',
    description: '',
    language: '',
    persistent: false,
    public: true,
    membersOnly: false,
    moderated: false,
    passwordProtected: false,
    password: '',
    whois: 'moderators',
    maxUsers: limits.maxOccupants,
    changeSubject: false,
    allowInvites: false,
    allowPm: 'anyone',
    presenceBroadcast: [...PRESENT_ROLES],
    getMemberList: [...PRESENT_ROLES],
    maxHistory: limits.maxHistory,
  };
}

// ---- the fields (§16.5.3), each with how it reads from and writes to RoomConfig ----

type FieldType = 'text-single' | 'text-private' | 'boolean' | 'list-single' | 'list-multi';

interface FieldSpec {
  readonly var: string;
  readonly type: FieldType;
  readonly label: string;
  readonly options?: (limits: MucLimits) => readonly { value: string; label: string }[];
  /** The values shown in the form. */
  show(config: RoomConfig): string[];
  /** Applies submitted values; throws bad-request for a malformed value, not-acceptable for one outside policy. */
  apply(config: RoomConfig, values: readonly string[], limits: MucLimits): void;
  /** The value kept in the store. */
  store(config: RoomConfig): RoomConfigValue;
  /** Reads a stored value back; false when it is not usable (the default stays). */
  restore(config: RoomConfig, value: RoomConfigValue, limits: MucLimits): boolean;
}

export const FIELD = {
  formType: 'FORM_TYPE',
  name: 'muc#roomconfig_roomname',
  description: 'muc#roomconfig_roomdesc',
  language: 'muc#roomconfig_lang',
  persistent: 'muc#roomconfig_persistentroom',
  public: 'muc#roomconfig_publicroom',
  membersOnly: 'muc#roomconfig_membersonly',
  moderated: 'muc#roomconfig_moderatedroom',
  passwordProtected: 'muc#roomconfig_passwordprotectedroom',
  password: 'muc#roomconfig_roomsecret',
  whois: 'muc#roomconfig_whois',
  maxUsers: 'muc#roomconfig_maxusers',
  changeSubject: 'muc#roomconfig_changesubject',
  allowInvites: 'muc#roomconfig_allowinvites',
  allowPm: 'muc#roomconfig_allowpm',
  presenceBroadcast: 'muc#roomconfig_presencebroadcast',
  getMemberList: 'muc#roomconfig_getmemberlist',
  maxHistory: 'muc#maxhistoryfetch',
  admins: 'muc#roomconfig_roomadmins',
  owners: 'muc#roomconfig_roomowners',
} as const;

function single(field: string, values: readonly string[]): string {
  if (values.length > 1) throw new StanzaError('bad-request', `field ${field} takes one value`);
  return values[0] ?? '';
}

export function parseBoolean(field: string, values: readonly string[]): boolean {
  const value = single(field, values).trim();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false' || value === '') return false;
  throw new StanzaError('bad-request', `field ${field}: expected a boolean (0, 1, false or true), got "${value}"`);
}

function roleList(field: string, values: readonly string[]): PresentRole[] {
  const roles = new Set<PresentRole>();
  for (const value of values) {
    const role = PRESENT_ROLES.find((r) => r === value.trim());
    if (role === undefined) throw new StanzaError('not-acceptable', `field ${field}: "${value}" is not moderator, participant or visitor`);
    roles.add(role);
  }
  return PRESENT_ROLES.filter((r) => roles.has(r));
}

function isRoleArray(value: RoomConfigValue): value is string[] {
  return Array.isArray(value) && value.every((v) => PRESENT_ROLES.some((r) => r === v));
}

function textField(key: 'name' | 'description' | 'language', fieldVar: string, label: string, maxLength: number): FieldSpec {
  return {
    var: fieldVar,
    type: 'text-single',
    label,
    show: (c) => [c[key]],
    apply(c, values) {
      const value = single(fieldVar, values);
      if (value.length > maxLength) throw new StanzaError('not-acceptable', `field ${fieldVar}: at most ${maxLength} characters`);
      c[key] = value;
    },
    store: (c) => c[key],
    restore(c, value) {
      if (typeof value !== 'string') return false;
      c[key] = value;
      return true;
    },
  };
}

type BooleanKey = 'persistent' | 'public' | 'membersOnly' | 'moderated' | 'passwordProtected' | 'changeSubject' | 'allowInvites';

function booleanField(key: BooleanKey, fieldVar: string, label: string): FieldSpec {
  return {
    var: fieldVar,
    type: 'boolean',
    label,
    show: (c) => [c[key] ? '1' : '0'],
    apply(c, values) {
      c[key] = parseBoolean(fieldVar, values);
    },
    store: (c) => c[key],
    restore(c, value) {
      if (typeof value !== 'boolean') return false;
      c[key] = value;
      return true;
    },
  };
}

const WHOIS_OPTIONS = [
  { value: 'moderators', label: 'Moderators only' },
  { value: 'anyone', label: 'Anyone' },
] as const;

const ALLOW_PM_OPTIONS = [
  { value: 'anyone', label: 'Anyone' },
  { value: 'participants', label: 'Anyone with voice' },
  { value: 'moderators', label: 'Moderators only' },
  { value: 'none', label: 'Nobody' },
] as const;

const ROLE_OPTIONS = [
  { value: 'moderator', label: 'Moderator' },
  { value: 'participant', label: 'Participant' },
  { value: 'visitor', label: 'Visitor' },
] as const;

const MAX_TEXT = 1024;

export const FIELDS: readonly FieldSpec[] = [
  textField('name', FIELD.name, 'Natural-language room name', MAX_TEXT),
  textField('description', FIELD.description, 'Short description of the room', MAX_TEXT),
  textField('language', FIELD.language, 'Natural language for room discussions', 64),
  booleanField('persistent', FIELD.persistent, 'Make room persistent?'),
  booleanField('public', FIELD.public, 'Make room publicly searchable?'),
  booleanField('membersOnly', FIELD.membersOnly, 'Make room members-only?'),
  booleanField('moderated', FIELD.moderated, 'Make room moderated?'),
  booleanField('passwordProtected', FIELD.passwordProtected, 'Password required to enter?'),
  {
    var: FIELD.password,
    type: 'text-private',
    label: 'Password',
    show: (c) => [c.password],
    apply(c, values) {
      const value = single(FIELD.password, values);
      if (value.length > MAX_TEXT) throw new StanzaError('not-acceptable', `field ${FIELD.password}: at most ${MAX_TEXT} characters`);
      c.password = value;
    },
    store: (c) => c.password,
    restore(c, value) {
      if (typeof value !== 'string') return false;
      c.password = value;
      return true;
    },
  },
  {
    var: FIELD.whois,
    type: 'list-single',
    label: 'Who may discover real JIDs?',
    options: () => WHOIS_OPTIONS,
    show: (c) => [c.whois],
    apply(c, values) {
      const value = single(FIELD.whois, values);
      const whois = WHOIS_OPTIONS.find((o) => o.value === value)?.value;
      // 'none' (fully anonymous) is deprecated (§10.1.3).
      if (whois === undefined) throw new StanzaError('not-acceptable', `field ${FIELD.whois}: "${value}" is not moderators or anyone`);
      c.whois = whois;
    },
    store: (c) => c.whois,
    restore(c, value) {
      const whois = WHOIS_OPTIONS.find((o) => o.value === value)?.value;
      if (whois === undefined) return false;
      c.whois = whois;
      return true;
    },
  },
  {
    var: FIELD.maxUsers,
    type: 'list-single',
    label: 'Maximum number of occupants',
    options: (limits) => [
      ...[10, 20, 30, 50, 100, 200, 500, 1000].filter((n) => n < limits.maxOccupants).map((n) => ({ value: String(n), label: String(n) })),
      { value: String(limits.maxOccupants), label: String(limits.maxOccupants) },
    ],
    show: (c) => [String(c.maxUsers)],
    apply(c, values, limits) {
      const value = single(FIELD.maxUsers, values).trim();
      if (value === 'none') {
        c.maxUsers = limits.maxOccupants;
        return;
      }
      if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new StanzaError('bad-request', `field ${FIELD.maxUsers}: expected a positive number, got "${value}"`);
      if (Number(value) > limits.maxOccupants) throw new StanzaError('not-acceptable', `field ${FIELD.maxUsers}: this service allows at most ${limits.maxOccupants} occupants`);
      c.maxUsers = Number(value);
    },
    store: (c) => c.maxUsers,
    restore(c, value, limits) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) return false;
      c.maxUsers = Math.min(value, limits.maxOccupants);
      return true;
    },
  },
  booleanField('changeSubject', FIELD.changeSubject, 'Allow occupants to change the subject?'),
  booleanField('allowInvites', FIELD.allowInvites, 'Allow members to invite others?'),
  {
    var: FIELD.allowPm,
    type: 'list-single',
    label: 'Who may send private messages?',
    options: () => ALLOW_PM_OPTIONS,
    show: (c) => [c.allowPm],
    apply(c, values) {
      const value = single(FIELD.allowPm, values);
      const allowPm = ALLOW_PM_OPTIONS.find((o) => o.value === value)?.value;
      if (allowPm === undefined) throw new StanzaError('not-acceptable', `field ${FIELD.allowPm}: "${value}" is not anyone, participants, moderators or none`);
      c.allowPm = allowPm;
    },
    store: (c) => c.allowPm,
    restore(c, value) {
      const allowPm = ALLOW_PM_OPTIONS.find((o) => o.value === value)?.value;
      if (allowPm === undefined) return false;
      c.allowPm = allowPm;
      return true;
    },
  },
  {
    var: FIELD.presenceBroadcast,
    type: 'list-multi',
    label: 'Roles for which presence is broadcast',
    options: () => ROLE_OPTIONS,
    show: (c) => [...c.presenceBroadcast],
    apply(c, values) {
      c.presenceBroadcast = roleList(FIELD.presenceBroadcast, values);
    },
    store: (c) => [...c.presenceBroadcast],
    restore(c, value) {
      if (!isRoleArray(value)) return false;
      c.presenceBroadcast = roleList(FIELD.presenceBroadcast, value);
      return true;
    },
  },
  {
    var: FIELD.getMemberList,
    type: 'list-multi',
    label: 'Roles that may retrieve the member list',
    options: () => ROLE_OPTIONS,
    show: (c) => [...c.getMemberList],
    apply(c, values) {
      c.getMemberList = roleList(FIELD.getMemberList, values);
    },
    store: (c) => [...c.getMemberList],
    restore(c, value) {
      if (!isRoleArray(value)) return false;
      c.getMemberList = roleList(FIELD.getMemberList, value);
      return true;
    },
  },
  {
    var: FIELD.maxHistory,
    type: 'text-single',
    label: 'Maximum number of history messages returned by the room',
    show: (c) => [String(c.maxHistory)],
    apply(c, values, limits) {
      const value = single(FIELD.maxHistory, values).trim();
      if (!/^\d{1,9}$/.test(value)) throw new StanzaError('bad-request', `field ${FIELD.maxHistory}: expected a number, got "${value}"`);
      if (Number(value) > limits.maxHistory) throw new StanzaError('not-acceptable', `field ${FIELD.maxHistory}: this service keeps at most ${limits.maxHistory} messages`);
      c.maxHistory = Number(value);
    },
    store: (c) => c.maxHistory,
    restore(c, value, limits) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return false;
      c.maxHistory = Math.min(value, limits.maxHistory);
      return true;
    },
  },
];

// ---- XEP-0004 Data Forms ----

/** The submitted fields of a form: var -> values (a field without a var is ignored). */
export function formValues(form: Element): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const field of form.getChildren('field')) {
    const name = field.attrs.var;
    if (name === undefined) continue;
    values.set(name, field.getChildren('value').map((v) => v.getText()));
  }
  return values;
}

export function formType(values: Map<string, string[]>): string | undefined {
  return values.get(FIELD.formType)?.[0];
}

export function dataField(fieldVar: string | undefined, type: string | undefined, label: string | undefined, values: readonly string[], options: readonly { value: string; label: string }[] = []): Element {
  const field = xml('field', { var: fieldVar, type, label });
  for (const value of values) field.cnode(xml('value', {}, value));
  for (const option of options) field.cnode(xml('option', { label: option.label }, xml('value', {}, option.value)));
  return field;
}

/** §10.1.3 and §10.2: the configuration form with the current values, owners and admins. */
export function configForm(roomJid: string, config: RoomConfig, limits: MucLimits, owners: readonly string[], admins: readonly string[]): Element {
  const form = xml(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    xml('title', {}, `Configuration of ${roomJid}`),
    xml('instructions', {}, 'Complete this form to configure the room; submit it unchanged to accept the current configuration.'),
    dataField(FIELD.formType, 'hidden', undefined, [NS.mucRoomconfig]),
  );
  for (const spec of FIELDS) form.cnode(dataField(spec.var, spec.type, spec.label, spec.show(config), spec.options?.(limits) ?? []));
  form.cnode(dataField(FIELD.admins, 'jid-multi', 'Room admins', admins));
  form.cnode(dataField(FIELD.owners, 'jid-multi', 'Room owners', owners));
  return form;
}

export interface SubmittedConfig {
  config: RoomConfig;
  /** Full lists from muc#roomconfig_roomowners / _roomadmins, when submitted (bare JIDs, not validated here). */
  owners?: string[];
  admins?: string[];
}

/** Applies a submitted form to a copy of `current`; unknown fields are ignored (XEP-0004 §3.2). */
export function parseConfigSubmission(form: Element, current: RoomConfig, limits: MucLimits): SubmittedConfig {
  const values = formValues(form);
  const type = formType(values);
  if (type !== undefined && type !== NS.mucRoomconfig) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS.mucRoomconfig}`);
  const config: RoomConfig = { ...current, presenceBroadcast: [...current.presenceBroadcast], getMemberList: [...current.getMemberList] };
  for (const spec of FIELDS) {
    const submitted = values.get(spec.var);
    if (submitted !== undefined) spec.apply(config, submitted, limits);
  }
  // §10.1.3: a password-protected room needs a password.
  if (config.passwordProtected && config.password === '') throw new StanzaError('not-acceptable', 'a password-protected room needs a password (muc#roomconfig_roomsecret)');
  const result: SubmittedConfig = { config };
  const owners = values.get(FIELD.owners);
  const admins = values.get(FIELD.admins);
  if (owners !== undefined) result.owners = owners.map((v) => v.trim()).filter((v) => v !== '');
  if (admins !== undefined) result.admins = admins.map((v) => v.trim()).filter((v) => v !== '');
  return result;
}

// ---- the stored form (StoredRoom.config) ----

export function storedConfig(config: RoomConfig): Record<string, RoomConfigValue> {
  const record: Record<string, RoomConfigValue> = {};
  for (const spec of FIELDS) record[spec.var] = spec.store(config);
  return record;
}

/** Reads a stored configuration; a field that is missing or unusable keeps its default. */
export function restoredConfig(record: Readonly<Record<string, RoomConfigValue>>, limits: MucLimits): RoomConfig {
  const config = defaultRoomConfig(limits);
  for (const spec of FIELDS) {
    if (!Object.hasOwn(record, spec.var)) continue;
    const value = record[spec.var];
    if (value !== undefined) spec.restore(config, value, limits);
  }
  return config;
}
