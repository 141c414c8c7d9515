import assert from 'node:assert/strict';
import { Gauge } from 'prom-client';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import { parseExposition } from '../../test/support/prometheus.js';
import { ServerMetrics } from './metrics.js';

/** Each loop-delay sample is the interval between two timer callbacks (libuv counts whole ms, so a little under it at times). */
async function medianLoopSample(metrics: ServerMetrics): Promise<number> {
  await metrics.exposition(); // prom-client resets its histogram at each collection: the samples below are new
  await new Promise((resolve) => setTimeout(resolve, 700));
  const { samples } = parseExposition((await metrics.exposition()).body);
  return samples.get('nodejs_eventloop_lag_p50_seconds') ?? Number.NaN;
}

describe('ServerMetrics exposition', () => {
  it('samples the loop delay at [metrics] event_loop_sample_ms, and exports that interval', async () => {
    const coarse = new ServerMetrics({ nodeId: 'n1', sessions: new LocalSessionRegistry(), eventLoopSampleMs: 50 });
    const fine = new ServerMetrics({ nodeId: 'n1', sessions: new LocalSessionRegistry(), eventLoopSampleMs: 10 });
    const [coarseMedian, fineMedian] = await Promise.all([medianLoopSample(coarse), medianLoopSample(fine)]);
    assert.ok(coarseMedian >= 0.045 && coarseMedian < 0.09, `median sample at 50 ms: ${coarseMedian} s`);
    // The control: the same measure at prom-client's own 10 ms reads that interval, so the one above is not a default.
    assert.ok(fineMedian >= 0.008 && fineMedian < 0.03, `median sample at 10 ms: ${fineMedian} s`);
    assert.match((await coarse.exposition()).body, /^ratatosk_event_loop_sample_seconds 0\.05$/m);
    const byDefault = new ServerMetrics({ nodeId: 'n1', sessions: new LocalSessionRegistry() });
    assert.match((await byDefault.exposition()).body, /^ratatosk_event_loop_sample_seconds 0\.1$/m);
  });

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
