import assert from 'node:assert/strict';
import { Gauge } from 'prom-client';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import { parseExposition } from '../../test/support/prometheus.js';
import { ServerMetrics } from './metrics.js';

describe('ServerMetrics exposition', () => {
  it('writes a value that is not a number as NaN, the text format\'s spelling (prom-client writes "Nan")', async () => {
    const metrics = new ServerMetrics({ nodeId: 'n1', sessions: new LocalSessionRegistry() });
    const unknown = new Gauge({ name: 'test_not_yet_measured', help: 'a value with no sample yet', registers: [metrics.registry] });
    unknown.set(Number.NaN);
    const { body } = await metrics.exposition();
    assert.match(body, /^test_not_yet_measured NaN$/m);
    const { samples } = parseExposition(body);
    assert.ok(Number.isNaN(samples.get('test_not_yet_measured')));
  });
});
