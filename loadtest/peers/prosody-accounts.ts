// Writes Prosody 0.12's internal storage for the load-test users directly: one account file
// (SCRAM credentials, as mod_auth_internal_hashed stores them) and one roster file per user, the same
// users and the same symmetric ring of contacts as `ratatosk user add-many --roster-size K --same-salt`.
// Files instead of `prosodyctl register`: prosodyctl starts a Lua process per user (about 0.3 s each,
// an hour for 10,000) and has no roster command; the files take about a second.
//
//   node --import tsx loadtest/peers/prosody-accounts.ts --data-dir D --domain tsung.test --prefix tsung \
//     --count 10000 --password tsungpass --roster-size 10 [--hash sha256] [--iterations 4096]
import { createHash, createHmac, pbkdf2Sync, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { contactOffsets } from '../../src/admin/add-many.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    domain: { type: 'string' },
    prefix: { type: 'string', default: 'tsung' },
    count: { type: 'string' },
    password: { type: 'string' },
    'roster-size': { type: 'string', default: '0' },
    hash: { type: 'string', default: 'sha256' },
    iterations: { type: 'string', default: '4096' },
  },
});
const required = (name: string, value: string | undefined): string => {
  if (value === undefined || value === '') throw new Error(`--${name} is required`);
  return value;
};
const dataDir = required('data-dir', values['data-dir']);
const domain = required('domain', values.domain);
const password = required('password', values.password);
const count = Number(required('count', values.count));
const rosterSize = Number(values['roster-size']);
const iterations = Number(values.iterations);
const hash = values.hash === 'sha1' ? 'sha1' : 'sha256';
const prefix = values.prefix ?? 'tsung';

// Prosody's data layout: <data_path>/<host, non-alphanumerics as %xx>/<store>/<user>.dat
const encode = (s: string): string => s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
const hostDir = join(dataDir, encode(domain));
mkdirSync(join(hostDir, 'accounts'), { recursive: true });
mkdirSync(join(hostDir, 'roster'), { recursive: true });

// RFC 5802 §3: SaltedPassword, StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey; Prosody keeps
// them as hex and the salt as the string it was given (a UUID when Prosody makes one).
const salt = randomUUID();
const salted = pbkdf2Sync(password, salt, iterations, hash === 'sha1' ? 20 : 32, hash);
const storedKey = createHash(hash).update(createHmac(hash, salted).update('Client Key').digest()).digest('hex');
const serverKey = createHmac(hash, salted).update('Server Key').digest('hex');
const account = [
  'return {',
  `\t["salt"] = "${salt}";`,
  `\t["iteration_count"] = ${iterations};`,
  `\t["server_key"] = "${serverKey}";`,
  `\t["stored_key"] = "${storedKey}";`,
  '};',
  '',
].join('\n');

const offsets = contactOffsets(count, rosterSize);
const username = (index: number): string => `${prefix}${(((index % count) + count) % count) + 1}`;
for (let i = 0; i < count; i++) {
  writeFileSync(join(hostDir, 'accounts', `${encode(username(i))}.dat`), account);
  // rostermanager: [false] holds the roster version and pending subscription requests; each contact
  // is keyed by its bare JID.
  const lines = ['return {', '\t[false] = {', '\t\t["version"] = 1;', '\t\t["pending"] = {};', '\t};'];
  for (const o of offsets) lines.push(`\t["${username(i + o)}@${domain}"] = {`, '\t\t["subscription"] = "both";', '\t\t["groups"] = {};', '\t};');
  lines.push('};', '');
  writeFileSync(join(hostDir, 'roster', `${encode(username(i))}.dat`), lines.join('\n'));
}
console.log(`prosody: ${count} accounts with ${rosterSize} contacts each written under ${hostDir}`);
