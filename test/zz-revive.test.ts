import { startSentinelTopology } from './support/redis-topologies.js';
describe('revive probe', function () {
  this.timeout(200000);
  it('kill, revive, pause', async function () {
    const t = await startSentinelTopology(this);
    try {
      const e1 = await t.killPrimary();
      console.log('kill ->', e1.to, e1.afterMs);
      const t0 = Date.now();
      await t.reviveAsReplica(e1.killed);
      console.log('revived in', Date.now() - t0);
      try {
        const e2 = await t.pausePrimary(30000);
        console.log('pause ->', e2.to, e2.afterMs);
      } catch (err) {
        for (const s of t.sentinels) console.log(`--- ${s.role}\n${await s.logTail(25)}`);
        throw err;
      }
    } finally {
      await t.stop();
    }
  });
});
