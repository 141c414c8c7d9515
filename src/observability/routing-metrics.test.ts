// The routing histogram counts in a typed array: what a scrape reads (text and JSON) is what prom-client's own
// Histogram gives for the same observations, bounds exactly hit and values past the last bound included.
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { CountingHistogram, ROUTING_BUCKETS, routingTimer } from './routing-metrics.js';

const OBSERVED = [0, 0.000003, 0.00001, 0.000011, 0.0004, 0.0005, 0.002, 0.25, 0.9999, 1, 1.5, 42];

function pair(): { ours: Registry; theirs: Registry; counting: CountingHistogram; reference: Histogram } {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: 'test_routing_seconds', help: 'routing time', buckets: ROUTING_BUCKETS };
  const counting = new CountingHistogram({ ...config, registers: [ours] });
  const reference = new Histogram({ ...config, registers: [theirs] });
  return { ours, theirs, counting, reference };
}

describe('CountingHistogram (ratatosk_routing_seconds)', function () {
  it('exposes what prom-client exposes for the same observations, before the first, after some and after a reset', async function () {
    const { ours, theirs, counting, reference } = pair();
    assert.equal(await ours.metrics(), await theirs.metrics(), 'no observation yet');
    for (const value of OBSERVED) {
      counting.record(value);
      reference.observe(value);
    }
    const text = await ours.metrics();
    assert.equal(text, await theirs.metrics());
    assert.match(text, /^test_routing_seconds_bucket\{le="0\.0005"\} 6$/m);
    assert.match(text, /^test_routing_seconds_bucket\{le="\+Inf"\} 12$/m);
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    ours.resetMetrics();
    theirs.resetMetrics();
    counting.record(0.003);
    reference.observe(0.003);
    assert.equal(await ours.metrics(), await theirs.metrics(), 'after a reset');
  });

  it('routingTimer registers ratatosk_routing_seconds and counts each routed stanza', async function () {
    const registry = new Registry();
    const timer = routingTimer(registry);
    timer.routed(timer.start());
    timer.routed(timer.start() - 2000);
    const text = await registry.metrics();
    assert.match(text, /^# TYPE ratatosk_routing_seconds histogram$/m);
    assert.match(text, /^ratatosk_routing_seconds_count 2$/m);
    assert.match(text, /^ratatosk_routing_seconds_bucket\{le="1"\} 1$/m, 'the 2 s one is only in +Inf');
  });
});
