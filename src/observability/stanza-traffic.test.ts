// The stanza counts: element names and serialised stanzas (fan-out copies) both counted by kind, read at scrape time.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { StanzaTraffic } from './stanza-traffic.js';

async function counts(registry: Registry): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('ratatosk_stanzas_total')?.get();
  const out: Record<string, number> = {};
  for (const v of metric?.values ?? []) out[`${String(v.labels.direction)} ${String(v.labels.kind)}`] = v.value;
  return out;
}

describe('StanzaTraffic', function () {
  it('counts stanzas in and out by kind, serialised ones by their name, and nothing else', async function () {
    const registry = new Registry();
    const traffic = new StanzaTraffic();
    traffic.register(registry);
    traffic.in('message');
    traffic.in('iq');
    traffic.in('stream:features');
    traffic.out('presence');
    traffic.outText('<message to="a@b" xmlns="jabber:client"><body>x</body></message>');
    traffic.outText('<presence xmlns="jabber:client"/>');
    traffic.outText('<iq type="result" id="1" xmlns="jabber:client"/>');
    traffic.outText('<r xmlns="urn:xmpp:sm:3"/>');
    assert.deepEqual(await counts(registry), {
      'in message': 1, 'out message': 1, 'in presence': 0, 'out presence': 2, 'in iq': 1, 'out iq': 1,
    });
    traffic.in('message');
    assert.equal((await counts(registry))['in message'], 2, 'a scrape reads the running totals');
  });
});
