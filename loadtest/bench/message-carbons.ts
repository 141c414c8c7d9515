// Micro-benchmark of routing a chat message from a client to a full JID on one node, and what the router's
// message hooks ('message:sent', 'message:delivered') and the XEP-0280 Carbons module add to it
// (run: npx tsx loadtest/bench/message-carbons.ts). CPU time of this process (the machine may be shared), in the router alone, no sockets; sessions serialise
// what they are given, as the transports do. Cases:
//   - no listeners: the router with its hooks unused (the cost of the two hook points themselves);
//   - carbons, nobody enabled: the module listens, each of the two users has one resource;
//   - carbons, 2 + 2 resources enabled: each message also makes a <sent/> and a <received/> copy.
import { pino } from 'pino';
import type { Config } from '../../src/config/types.js';
import type { CoreHooks } from '../../src/hooks/core-hooks.js';
import { HookBus } from '../../src/hooks/bus.js';
import { DiscoRegistry } from '../../src/modules/disco-registry.js';
import { ModuleHost } from '../../src/modules/host.js';
import { IqRegistry } from '../../src/router/iq-registry.js';
import { Router } from '../../src/router/router.js';
import { LocalSessionRegistry } from '../../src/sessions/local-registry.js';
import type { BoundSession } from '../../src/sessions/types.js';
import type { AccountStore, Stores } from '../../src/storage/types.js';
import { xml } from '../../src/xml/element.js';
import { standInSession } from '../../src/sessions/stand-in-session.js';
import carbons from '../../xeps/0280-carbons/index.js';
import { CARBONS_ENABLED } from '../../xeps/0280-carbons/copies.js';

const MESSAGES = 20_000;
const RUNS = 5;
let sink = 0;

function session(jid: string, enabled: boolean): BoundSession {
  return standInSession(jid, {
    flags: enabled ? [CARBONS_ENABLED] : [],
    send: (stanza) => void (sink += stanza.toString().length),
    sendText: (text) => void (sink += text.length),
  });
}

async function measure(name: string, withModule: boolean, resourcesEach: number, enabled: boolean): Promise<void> {
  const log = pino({ level: 'silent' });
  const sessions = new LocalSessionRegistry();
  const hooks = new HookBus<CoreHooks>(log);
  const iqs = new IqRegistry();
  const router = new Router({ domain: 'localhost', sessions, accounts: { exists: async () => true } as unknown as AccountStore, hooks, iqs, log });
  const host = new ModuleHost({
    config: { domain: 'localhost', nodeId: 'bench' } as Config,
    server: { name: 'bench', version: '0', startedAt: Date.now() },
    log,
    stores: {} as Stores,
    sessions,
    hooks,
    iqs,
    router,
    disco: new DiscoRegistry(),
  });
  if (withModule) await host.start(carbons);
  for (let i = 0; i < resourcesEach; i++) {
    sessions.add(session(`juliet@localhost/r${i}`, enabled));
    sessions.add(session(`romeo@localhost/r${i}`, enabled));
  }
  const sender = sessions.get('juliet@localhost/r0') as BoundSession;
  const perMessage: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.cpuUsage();
    for (let m = 0; m < MESSAGES; m++) {
      await router.fromClient(sender, xml('message', { to: 'romeo@localhost/r0', type: 'chat', id: `m${m}` }, xml('body', {}, 'Wherefore art thou?')));
    }
    const used = process.cpuUsage(start);
    perMessage.push(((used.user + used.system) * 1e3) / MESSAGES);
  }
  await host.stopAll();
  perMessage.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(36)} ${(perMessage[Math.floor(RUNS / 2)] ?? 0).toFixed(0).padStart(6)} ns CPU per message [${(perMessage[0] ?? 0).toFixed(0)}–${(perMessage[RUNS - 1] ?? 0).toFixed(0)}]`);
}

console.log(`chat message to a full JID, ${MESSAGES} per run, median of ${RUNS}`);
await measure('no listeners', false, 1, false);
await measure('carbons, nobody enabled', true, 1, false);
await measure('carbons, 2 + 2 resources enabled', true, 2, true);
console.log(`(${sink} characters serialised)`);
