// XEP-0077 In-Band Registration (version 2.5): registration before authentication (§3.1, §3.1.1)
// announced as a stream feature (§8), password change (§3.3) and cancellation (§3.2) for
// logged-in users, and the disco feature (§11).
import { StanzaError, bounce } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { defineModule, deriveCredentials, passwordProblem, type ModuleContext } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { AddressLimit } from './address-limit.js';
import { registrationConfig, type RegistrationSettings } from './settings.js';

type IqRequest = Parameters<Parameters<ModuleContext['onIq']>[4]>[0];
type Context = ModuleContext<RegistrationSettings>;

const INSTRUCTIONS = 'Choose a username and password for use with this server.';
const PRUNE_INTERVAL_MS = 60_000;

export default defineModule({
  name: 'register',
  specs: [
    {
      id: 'XEP-0077',
      title: 'In-Band Registration',
      version: '2.5',
      scope: 'account registration before authentication (off by default, limited per IP address), password change, cancellation',
      status: 'partial',
    },
  ],
  config: registrationConfig,
  setup(ctx) {
    // `allow` is read from ctx.settings at each use, so a reload switches registration on or off for new streams.
    const limit = new AddressLimit(ctx.settings.maxPerAddress, ctx.settings.windowSeconds * 1000);
    ctx.onSettingsChange((settings) => limit.reconfigure(settings.maxPerAddress, settings.windowSeconds * 1000));
    ctx.every(PRUNE_INTERVAL_MS, () => limit.prune());

    // Password changes and cancellation work whether or not new accounts may register.
    ctx.addFeature(NS.register);

    const channelAllowed = (secure: boolean): boolean => secure || !ctx.config.c2s.requireTls;

    ctx.hook('stream:features', (features, context) => {
      if (!context.authenticated && ctx.settings.allow && channelAllowed(context.secure)) {
        features.push(xml('register', { xmlns: NS.registerFeature }));
      }
      return features;
    });

    ctx.hook('c2s:preauth-iq', async (iq, client) => {
      const query = registrationQuery(iq, ctx.domain);
      if (!query) return undefined;
      try {
        if (!iq.attrs.id) throw new StanzaError('bad-request', "an iq needs an 'id'");
        if (!ctx.settings.allow) throw new StanzaError('service-unavailable', 'in-band registration is disabled on this server');
        if (!channelAllowed(client.secure)) throw new StanzaError('not-authorized', 'negotiate TLS before registering', 'modify');
        if (iq.attrs.type === 'get') return reply(iq, registrationForm());
        if (query.getChild('remove')) throw new StanzaError('unexpected-request', 'authenticate before cancelling a registration');
        await register(ctx, query, limit, client.remoteAddress);
        return reply(iq);
      } catch (err) {
        if (err instanceof StanzaError) return bounce(iq, err);
        throw err;
      }
    });

    const registered = ({ from }: IqRequest): Element =>
      xml('query', { xmlns: NS.register }, xml('registered'), xml('instructions', null, 'You are registered. Send a new password to change it, or <remove/> to delete your account.'), xml('username', null, from.local));

    const update = async (request: IqRequest): Promise<Element | undefined> => {
      if (request.payload.getChild('remove')) return cancel(ctx, request);
      await changePassword(ctx, request);
      return undefined;
    };

    for (const target of ['host', 'self'] as const) {
      ctx.onIq('get', target, NS.register, 'query', registered);
      ctx.onIq('set', target, NS.register, 'query', update);
    }
  },
});

/** The <query xmlns='jabber:iq:register'/> of an iq get or set addressed to this server, if that is what `iq` is. */
function registrationQuery(iq: Element, domain: string): Element | undefined {
  if (iq.attrs.type !== 'get' && iq.attrs.type !== 'set') return undefined;
  const to = iq.attrs.to;
  if (to !== undefined && Jid.tryParse(to)?.toString() !== domain) return undefined;
  const children = iq.children.filter((c): c is Element => c instanceof Element);
  const query = children[0];
  if (children.length !== 1 || query?.name !== 'query' || query.attrs.xmlns !== NS.register) return undefined;
  return query;
}

/** §3.1 Example 2: instructions and the fields to fill in (no e-mail: nothing would keep it). */
function registrationForm(): Element {
  return xml('query', { xmlns: NS.register }, xml('instructions', null, INSTRUCTIONS), xml('username'), xml('password'));
}

/** The iq result for a client that has no JID yet: no 'to', 'from' only if the request named the server. */
function reply(iq: Element, child?: Element): Element {
  return xml('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to }, child);
}

/** §3.1 Examples 4-7: creates the account, or says why not. */
async function register(ctx: Context, query: Element, limit: AddressLimit, address: string): Promise<void> {
  const username = validUsername(query.getChildText('username'));
  const password = validPassword(query.getChildText('password'), 'not-acceptable');
  const reservation = limit.reserve(address);
  if (!reservation) {
    throw new StanzaError('policy-violation', `at most ${ctx.settings.maxPerAddress} registrations per ${ctx.settings.windowSeconds} seconds from one address`, 'wait');
  }
  // A conflict (§3.1 Example 7) tells that the account exists, so it uses up the allowance like a
  // registration does: otherwise one address could probe for accounts without limit. Only an
  // error that says nothing about other accounts (storage down) gives the slot back.
  let answered = false;
  try {
    if (await ctx.stores.accounts.exists(username)) {
      answered = true;
      throw new StanzaError('conflict', 'the username is taken');
    }
    const created = await ctx.stores.accounts.create(username, await deriveCredentials(password, ctx.config.auth.scramIterations, ctx.config.auth.scramHashes));
    answered = true;
    if (!created) throw new StanzaError('conflict', 'the username is taken');
    ctx.log.info({ user: username, address }, 'account registered in-band');
  } finally {
    if (!answered) reservation.release();
  }
}

/** §3.3: the logged-in user sets a new password for the own account. */
async function changePassword(ctx: ModuleContext, { payload, from }: IqRequest): Promise<void> {
  const given = payload.getChildText('username')?.trim();
  if (!given) throw new StanzaError('bad-request', 'the request needs the <username/> of the account');
  if (!sameAccount(given, from, ctx.domain)) throw new StanzaError('forbidden', 'only the own password can be changed');
  // §3.3: an empty password never replaces the existing one.
  const password = validPassword(payload.getChildText('password'), 'bad-request');
  const credentials = await deriveCredentials(password, ctx.config.auth.scramIterations, ctx.config.auth.scramHashes);
  if (!(await ctx.stores.accounts.setCredentials(from.local, credentials))) throw new StanzaError('registration-required', 'the account no longer exists');
  ctx.log.info({ user: from.local }, 'password changed in-band');
}

/**
 * §3.2: deletes the account of the sender. The result goes out before the sessions close with
 * the <not-authorized/> stream error the section asks for, so it is sent here directly: the
 * router's own copy then finds no session and goes nowhere.
 */
async function cancel(ctx: ModuleContext, { payload, stanza, from, session }: IqRequest): Promise<undefined> {
  const children = payload.children.filter((c): c is Element => c instanceof Element);
  if (children.length !== 1) throw new StanzaError('bad-request', '<remove/> must be the only child of <query/>');
  if (!(await ctx.stores.accounts.delete(from.local))) throw new StanzaError('registration-required', 'there is no such account');
  ctx.log.info({ user: from.local }, 'account deleted in-band');
  session?.send(xml('iq', { type: 'result', id: stanza.attrs.id, to: from.toString(), from: stanza.attrs.to }));
  // The core ends the account's sessions on every node (src/cluster/account-deletions.ts), after this turn.
  await ctx.emit('account:deleted', from.local);
  return undefined;
}

/** A username becomes the localpart of the account's JID, so it must be a valid one (RFC 7622 §3.3). */
function validUsername(text: string | null): string {
  const raw = text?.trim() ?? '';
  if (raw === '') throw new StanzaError('not-acceptable', 'a username is required');
  try {
    return Jid.normaliseLocal(raw);
  } catch {
    throw new StanzaError('not-acceptable', 'the username is not a valid JID localpart');
  }
}

/** A password the server accepts; empty as sent is `condition`, anything else wrong is not-acceptable. */
function validPassword(text: string | null, condition: 'not-acceptable' | 'bad-request'): string {
  const password = text ?? '';
  const problem = passwordProblem(password);
  if (problem) throw new StanzaError(password === '' ? condition : 'not-acceptable', password === '' ? 'a password is required' : problem.text);
  return password;
}

/** The username of a password change names the sender's account, as a localpart or as the bare JID. */
function sameAccount(given: string, from: Jid, domain: string): boolean {
  const jid = given.includes('@') ? Jid.tryParse(given) : Jid.tryParse(`${given}@${domain}`);
  return jid !== undefined && jid.isBare && jid.equals(from.bare());
}
