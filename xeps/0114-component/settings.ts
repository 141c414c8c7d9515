// The XEP-0114 tables: [component], where components connect, and [[components]], the components allowed
// to connect, each serving one domain with its shared secret (ratatosk.example.toml documents each key).
// Checked with the rest of the configuration at load and at start (src/modules/config.ts).
import { z } from 'zod';
import { configTypes, coreListeners, moduleConfig, samePort } from '../../src/modules/api.js';

const { domain, expect, host, port, seconds, text } = configTypes;

export const COMPONENT_DEFAULT_PORT = 5347;

export interface ComponentEntry {
  /** The domain the component serves, e.g. gateway.example.org (normalised). */
  readonly domain: string;
  /** The shared secret of the handshake (§3). */
  readonly secret: string;
  /** Shown in the server's disco#items. */
  readonly name?: string;
}

export interface ComponentSettings {
  /** Where components connect; the listener opens only when `components` lists any. 0: a free port, -1: none. */
  readonly host: string;
  readonly port: number;
  /** Seconds a new component connection has to complete the handshake. */
  readonly handshakeTimeout: number;
  readonly components: readonly ComponentEntry[];
}

const entry = z.strictObject({ domain, secret: text, name: text.optional() }, expect('a table'));

/** [[components]]: each domain once, so a stanza has exactly one component to go to. */
const componentList = z
  .array(entry, expect('a list of [[components]] tables'))
  .default([])
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((e, index) => {
      const first = seen.get(e.domain);
      if (first === undefined) seen.set(e.domain, index);
      else ctx.addIssue({ code: 'custom', path: [index, 'domain'], message: `expected a domain not already listed (components[${first}] has ${e.domain})` });
    });
  });

/** RATATOSK_COMPONENTS: domain=secret,domain2=secret2; an entry without '=' lacks its secret, which validation reports. */
function componentsFromEnv(value: string): unknown {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((item) => {
    const eq = item.indexOf('=');
    return eq === -1 ? { domain: item } : { domain: item.slice(0, eq).trim(), secret: item.slice(eq + 1) };
  });
}

export const componentConfig = moduleConfig({
  section: 'component',
  shape: {
    host: host.default('127.0.0.1'),
    port: port.default(COMPONENT_DEFAULT_PORT),
    handshake_timeout: seconds.default(10),
  },
  topLevel: { components: componentList },
  env: {
    RATATOSK_COMPONENT_HOST: { path: ['component', 'host'], kind: 'string' },
    RATATOSK_COMPONENT_PORT: { path: ['component', 'port'], kind: 'integer' },
    RATATOSK_COMPONENTS: { path: ['components'], kind: componentsFromEnv },
  },
  resolve: (t, _server, { components }): ComponentSettings => ({
    host: t.host,
    port: t.port,
    handshakeTimeout: t.handshake_timeout,
    components: components.map((c) => (c.name === undefined ? { domain: c.domain, secret: c.secret } : { domain: c.domain, secret: c.secret, name: c.name })),
  }),
  check: (settings, server) => {
    const clash = coreListeners(server).find((l) => samePort(l, settings));
    return clash ? [{ path: ['port'], message: `must differ from ${clash.key}, both are ${clash.port}` }] : [];
  },
  domains: (settings) => settings.components.map((c, index) => ({ section: 'components', path: [index, 'domain'], domain: c.domain })),
});
