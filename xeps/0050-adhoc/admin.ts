// XEP-0133 Service Administration (version 1.2): the §4 commands this server offers to its admins,
// with the node names, field vars, labels and FORM_TYPE of the XEP's examples.
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { type AccountStore, deriveCredentials, passwordProblem, type ScramHashName, type SessionView } from '../../src/modules/api.js';
import { NS } from '../../src/xml/ns.js';
import { dataForm, formTypeField, type FormField, type FormValues } from './data-form.js';
import { commandError, type AdHocCommand, type CommandOutcome, type CommandStage, type Note } from './engine.js';

export const ADMIN_NODE = `${NS.admin}#`;

export interface AdminDeps {
  readonly domain: string;
  readonly accounts: AccountStore;
  readonly sessions: SessionView;
  readonly scramIterations: number;
  /** The SCRAM hashes a new password gets keys for ([auth] scram_hashes). */
  readonly scramHashes?: readonly ScramHashName[];
  /** Whether a requester is a service administrator. */
  isAdmin(requester: Jid): boolean;
  /** Tells the other modules about deleted accounts and ends their sessions once the command's answer is out. */
  accountsDeleted(usernames: readonly string[]): Promise<void>;
}

const MAX_ITEMS_OPTIONS = ['25', '50', '75', '100', '150', '200'];

export function adminCommands(deps: AdminDeps): AdHocCommand[] {
  const command = (use: string, name: string, stages: CommandStage[], complete: AdHocCommand['complete']): AdHocCommand => ({
    node: `${ADMIN_NODE}${use}`,
    name,
    formType: NS.admin,
    stages,
    allowed: (requester) => deps.isAdmin(requester),
    complete,
  });
  const form = (title: string, instructions: string, fields: FormField[]): CommandStage => ({
    form: () => dataForm('form', { title, instructions, fields: [formTypeField(NS.admin), ...fields] }),
  });
  const result = (...fields: FormField[]): CommandOutcome => ({ result: dataForm('result', { fields: [formTypeField(NS.admin), ...fields] }) });

  /** A JID from a form that must be a local account's bare JID (§4: "of the form <user@host>"). */
  const localUser = (text: string): string => {
    const jid = Jid.tryParse(text);
    if (!jid || jid.local === '') throw commandError('bad-request', 'bad-payload', `"${text}" is not a user's JID`, 'modify');
    if (jid.domain !== deps.domain) throw commandError('bad-request', 'bad-payload', `${jid.bareString()} is not an account of ${deps.domain}`, 'modify');
    return jid.local;
  };

  const credentials = async (password: string | undefined) => {
    if (password === undefined) throw commandError('bad-request', 'bad-payload', 'a password is required', 'modify');
    const problem = passwordProblem(password);
    if (problem) throw new StanzaError('not-acceptable', problem.text, 'modify');
    return deriveCredentials(password, deps.scramIterations, deps.scramHashes);
  };

  /** The users with a session on any node of the cluster, and a note naming the nodes that did not answer. */
  const onlineUsers = async (): Promise<{ users: string[]; notes: Note[] }> => {
    const { fullJids, unanswered } = await deps.sessions.everywhere();
    const bare = new Set<string>();
    for (const full of fullJids) {
      const jid = Jid.tryParse(full);
      if (jid !== undefined) bare.add(jid.bareString());
    }
    const notes: Note[] = unanswered.length === 0 ? [] : [{ type: 'warn', text: `not counted: the users of ${unanswered.join(', ')}, which did not answer in time` }];
    return { users: [...bare].sort(), notes };
  };

  return [
    // §4.1 Add User
    command(
      'add-user',
      'Add User',
      [
        form('Adding a User', 'Fill out this form to add a user.', [
          { label: 'The Jabber ID for the account to be added', type: 'jid-single', var: 'accountjid', required: true },
          { label: 'The password for this account', type: 'text-private', var: 'password' },
          { label: 'Retype password', type: 'text-private', var: 'password-verify' },
        ]),
      ],
      async (values) => {
        const username = localUser(values.single('accountjid') ?? '');
        const password = values.secret('password');
        const verify = values.secret('password-verify');
        if (verify !== undefined && verify !== password) throw commandError('bad-request', 'bad-payload', 'the passwords differ', 'modify');
        if (await deps.accounts.exists(username)) throw new StanzaError('conflict', `${username}@${deps.domain} already exists`);
        if (!(await deps.accounts.create(username, await credentials(password)))) throw new StanzaError('conflict', `${username}@${deps.domain} already exists`);
        return {};
      },
    ),
    // §4.2 Delete User
    command(
      'delete-user',
      'Delete User',
      [form('Deleting a User', 'Fill out this form to delete a user.', [{ label: 'The Jabber ID(s) to delete', type: 'jid-multi', var: 'accountjids', required: true }])],
      async (values) => {
        const usernames = [...new Set(values.multi('accountjids').map(localUser))];
        const missing: string[] = [];
        for (const username of usernames) if (!(await deps.accounts.exists(username))) missing.push(`${username}@${deps.domain}`);
        if (missing.length > 0) throw new StanzaError('item-not-found', `no such account: ${missing.join(', ')}`);
        const deleted: string[] = [];
        for (const username of usernames) if (await deps.accounts.delete(username)) deleted.push(username);
        await deps.accountsDeleted(deleted);
        return {};
      },
    ),
    // §4.7 Change User Password
    command(
      'change-user-password',
      'Change User Password',
      [
        form('Changing a User Password', "Fill out this form to change a user's password.", [
          { label: 'The Jabber ID for this account', type: 'jid-single', var: 'accountjid', required: true },
          { label: 'The password for this account', type: 'text-private', var: 'password', required: true },
        ]),
      ],
      async (values) => {
        const username = localUser(values.single('accountjid') ?? '');
        const stored = await credentials(values.secret('password'));
        if (!(await deps.accounts.setCredentials(username, stored))) throw new StanzaError('item-not-found', `no such account: ${username}@${deps.domain}`);
        return {};
      },
    ),
    // §4.13 Get Number of Registered Users
    command('get-registered-users-num', 'Get Number of Registered Users', [], async () =>
      result({ label: 'The number of registered users', var: 'registeredusersnum', values: [String(await deps.accounts.count())] }),
    ),
    // §4.15 Get Number of Online Users
    command('get-online-users-num', 'Get Number of Online Users', [], async () => {
      const { users, notes } = await onlineUsers();
      return { ...result({ label: 'The number of online users', var: 'onlineusersnum', values: [String(users.length)] }), notes };
    }),
    // §4.20 Get List of Online Users
    command(
      'get-online-users-list',
      'Get List of Online Users',
      [
        form('Requesting List of Online Users', 'Fill out this form to request the online users of this service.', [
          {
            label: 'Maximum number of items to show',
            type: 'list-single',
            var: 'max_items',
            options: [...MAX_ITEMS_OPTIONS.map((v) => ({ label: v, value: v })), { label: 'None', value: 'none' }],
          },
        ]),
      ],
      async (values: FormValues) => {
        const limit = maxItems(values.single('max_items'));
        const { users, notes } = await onlineUsers();
        return { ...result({ label: 'The list of all online users', type: 'jid-multi', var: 'onlineuserjids', values: users.slice(0, limit) }), notes };
      },
    ),
  ];
}

/** max_items: one of the offered numbers, any other positive integer, or "none" (or nothing) for no limit. */
function maxItems(value: string | undefined): number | undefined {
  if (value === undefined || value === 'none') return undefined;
  if (!/^[1-9]\d{0,8}$/.test(value)) throw commandError('bad-request', 'bad-payload', `max_items must be a positive number or "none", not "${value}"`, 'modify');
  return Number(value);
}
