// XEP-0484 Fast Authentication Streamlining Tokens (FAST) 0.3 over XEP-0388 SASL2: the <fast/> inline feature
// with its mechanisms (§2), a token on <request-token/> in <success/> (§3), login with the token in one round
// trip (§4), rotation on every use and <fast invalidate='true'/> (§5); tokens bound to the account, the
// user-agent id and the mechanism, refused once the password changed (README). HT mechanisms per
// draft-schmaus-kitten-sasl-ht: HT-SHA-256-NONE only (no channel binding).
import { createHash, randomBytes } from 'node:crypto';
import { defineModule, StoreUnavailableError, type Sasl2Request } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { tokensRevoke } from './commands.js';
import { HT_SHA_256_NONE, HtSha256None, tokenVerifier } from './ht.js';
import { fastConfig } from './settings.js';
import { fastStores } from './store/index.js';
import type { FastTokenRecord } from './store/types.js';

const MECHANISMS = [HT_SHA_256_NONE];

/** What ties a token to the password: a hash of the stored SCRAM-SHA-256 key (SHA-1's for an account without one). */
export function credentialFingerprint(credentials: Partial<Record<string, { storedKey: string }>>): string {
  const key = credentials.sha256?.storedKey ?? credentials.sha1?.storedKey ?? '';
  return createHash('sha256').update(`fast:${key}`).digest('base64url');
}

export default defineModule({
  name: 'fast',
  specs: [
    {
      id: 'XEP-0484',
      title: 'Fast Authentication Streamlining Tokens',
      version: '0.3',
      scope: 'SASL2 inline <fast/> with HT-SHA-256-NONE; tokens on <request-token/>, rotated on every use, <invalidate/>; bound to account, user-agent id and mechanism; refused after a password change; revoked by `ratatosk user tokens revoke`; no -UNIQ/-ENDP/-EXPR channel binding, no count attribute',
      status: 'partial',
    },
  ],
  config: fastConfig,
  stores: fastStores,
  commands: [tokensRevoke],
  setup(ctx) {
    const store = ctx.store;
    /** Logins made with a token: their <success/> carries the token that replaces it. */
    const usedToken = new WeakMap<Sasl2Request, FastTokenRecord>();

    const fingerprint = async (username: string): Promise<string | undefined> => {
      const account = await ctx.stores.accounts.get(username);
      return account ? credentialFingerprint(account.credentials) : undefined;
    };

    const issue = async (username: string, agent: string, mechanism: string): Promise<{ token: string; expiry: string } | undefined> => {
      const credential = await fingerprint(username);
      if (credential === undefined) return undefined;
      const token = randomBytes(32).toString('base64url');
      const expiresAt = Date.now() + ctx.settings.tokenLifetimeSeconds * 1000;
      await store.put(username, agent, { mechanism, ...tokenVerifier(token), expiresAt, credential });
      return { token, expiry: new Date(expiresAt).toISOString() };
    };

    ctx.onSasl2Inline(NS.fast, {
      feature: () => xml('fast', { xmlns: NS.fast }, ...MECHANISMS.map((m) => xml('mechanism', null, m))),
      mechanism: (name, request, gate) => {
        if (name !== HT_SHA_256_NONE) return undefined;
        const agent = request.userAgent.id;
        return new HtSha256None({
          take: async (username, verifier) => {
            // §3: a token belongs to one client installation; without a user-agent id there is none to find.
            if (agent === undefined) return undefined;
            const record = await store.take(username, agent, verifier);
            if (!record || record.mechanism !== name || record.expiresAt <= Date.now()) return undefined;
            return record.credential === (await fingerprint(username)) ? record : undefined;
          },
          used: (_username, record) => usedToken.set(request, record),
        }, gate);
      },
      success: async (request, stream) => {
        const agent = request.userAgent.id;
        if (agent === undefined) return;
        const used = usedToken.get(request);
        const fast = request.authenticate.getChild('fast', NS.fast);
        const asked = request.authenticate.getChild('request-token', NS.fast);
        let mechanism: string | undefined;
        if (used) {
          // §5: the used token is gone (taken as it logged in); a new one replaces it unless the client ends it.
          const invalidate = fast?.attrs.invalidate === 'true' || fast?.attrs.invalidate === '1';
          if (!invalidate) mechanism = used.mechanism;
        } else if (asked && MECHANISMS.includes(asked.attrs.mechanism ?? '')) {
          mechanism = asked.attrs.mechanism;
        }
        if (mechanism === undefined) return;
        let issued: { token: string; expiry: string } | undefined;
        try {
          issued = await issue(stream.username, agent, mechanism);
        } catch (err) {
          // The login stands without a token: the client keeps using its password until the store is back.
          if (!(err instanceof StoreUnavailableError)) throw err;
          ctx.log.warn({ err }, 'no FAST token issued: the store is unavailable');
        }
        if (issued) stream.send(xml('token', { xmlns: NS.fast, expiry: issued.expiry, token: issued.token }));
      },
    });
  },
});
