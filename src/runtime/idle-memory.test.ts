// The idle-memory mode: when it favours memory, and what that does to a real process's heap.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { until } from '../../test/support/until.js';
import { DEFAULT_IDLE_MEMORY_POLICY, favourMemoryNext, startIdleMemoryMode, type IntervalSample, type ServerActivity } from './idle-memory.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ChildSummary {
  physicalAtIdleStart: number;
  physicalAtEnd: number;
  halvedAfterMs: number | null;
  favoured: boolean;
  idlePeriods: number;
}

/** Runs test/fixtures/idle-memory-child.ts (busy, then idle with a trickle of allocations) with the mode on or off. */
function runChild(mode: 'on' | 'off'): Promise<ChildSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fixtures/idle-memory-child.ts', mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('SUMMARY '));
      if (code !== 0 || line === undefined) reject(new Error(`child (${mode}) exited ${code}:\n${out}\n${err}`));
      else resolve(JSON.parse(line.slice('SUMMARY '.length)) as ChildSummary);
    });
  });
}

/** A node whose clients send nothing. */
const SILENT: ServerActivity = { stanzasIn: () => 0, sessions: () => 0 };

const spin = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a busy event loop
  }
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('idle memory mode (src/runtime/idle-memory.ts)', function () {
  it('favours memory below the idle share, speed from the busy share, and keeps its state in between', function () {
    const policy = DEFAULT_IDLE_MEMORY_POLICY;
    const loop = (utilisation: number): IntervalSample => ({ utilisation, stanzasPerSecond: 0, sessions: 10_000 });
    assert.equal(favourMemoryNext(false, loop(0.05), policy), true);
    assert.equal(favourMemoryNext(true, loop(0.05), policy), true);
    assert.equal(favourMemoryNext(true, loop(0.3), policy), false);
    assert.equal(favourMemoryNext(false, loop(0.9), policy), false);
    assert.equal(favourMemoryNext(true, loop(0.2), policy), true);
    assert.equal(favourMemoryNext(false, loop(0.2), policy), false);
    assert.equal(favourMemoryNext(false, loop(0.15), policy), false);
  });

  it('an idle loop whose clients send more than a stanza per session per minute (or 10 a second) is busy', function () {
    const policy = DEFAULT_IDLE_MEMORY_POLICY;
    const sample = (stanzasPerSecond: number, sessions: number): IntervalSample => ({ utilisation: 0.05, stanzasPerSecond, sessions });
    // 10,000 silent BOSH sessions, and the same with a ping from each every five minutes: idle.
    assert.equal(favourMemoryNext(false, sample(0, 10_000), policy), true);
    assert.equal(favourMemoryNext(false, sample(33, 10_000), policy), true);
    assert.equal(favourMemoryNext(false, sample(166, 10_000), policy), true);
    assert.equal(favourMemoryNext(true, sample(170, 10_000), policy), false);
    // 1,000 users sending 200 messages a second in all (loadtest/compare's BOSH run): busy.
    assert.equal(favourMemoryNext(true, sample(200, 1_000), policy), false);
    // A small node: up to 10 a second is quiet.
    assert.equal(favourMemoryNext(false, sample(10, 5), policy), true);
    assert.equal(favourMemoryNext(true, sample(11, 5), policy), false);
  });

  // The checks run on a timer, so on a loaded machine they come late: the test waits for each switch (up to a few
  // seconds) instead of expecting it at a set time, and only the switch that must not happen is timed.
  it('switches with the loop: memory after an idle interval, speed after a busy one, nothing while disabled', async function () {
    this.timeout(20_000);
    let enabled = true;
    const mode = startIdleMemoryMode(() => enabled, SILENT, { ...DEFAULT_IDLE_MEMORY_POLICY, checkEveryMs: 200 });
    try {
      await until(() => mode.favoured, 'an idle loop to favour memory', 5000);
      assert.equal(mode.idlePeriods, 1);
      // The check that was due during the spin runs as soon as the loop is free, and sees it busy.
      spin(500);
      await until(() => !mode.favoured, 'a busy loop to favour speed again', 5000, 5);
      await until(() => mode.favoured, 'the loop, idle again, to favour memory again', 5000);
      assert.equal(mode.idlePeriods, 2);
      enabled = false;
      await until(() => !mode.favoured, 'the disabled mode to favour speed', 5000);
      // Positive control done above; now the absence: idle for five more checks, and still speed.
      await sleep(1000);
      assert.equal(mode.favoured, false, 'disabled: speed, although idle');
      assert.equal(mode.idlePeriods, 2);
    } finally {
      mode.stop();
    }
    assert.equal(mode.favoured, false);
  });

  it("counts the clients' stanzas between checks: a stream of them keeps an idle loop at speed", async function () {
    this.timeout(20_000);
    let stanzas = 0;
    const mode = startIdleMemoryMode(() => true, { stanzasIn: () => stanzas, sessions: () => 100 }, { ...DEFAULT_IDLE_MEMORY_POLICY, checkEveryMs: 200 });
    const feeding = setInterval(() => (stanzas += 10), 20); // 500 a second
    try {
      await sleep(650);
      assert.equal(mode.favoured, false, 'stanzas flowing: speed');
      assert.equal(mode.idlePeriods, 0);
      clearInterval(feeding);
      await until(() => mode.favoured, 'the loop to favour memory once the stream stopped', 5000);
    } finally {
      clearInterval(feeding);
      mode.stop();
    }
  });

  it('a process that goes idle after a burst gives its heap back with the mode on, and keeps it with the mode off', async function () {
    this.timeout(60_000);
    const [on, off] = await Promise.all([runChild('on'), runChild('off')]);
    assert.equal(on.favoured, true);
    assert.ok(on.idlePeriods >= 1);
    const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
    // Halved at some point of the idle phase (the trickle may grow it back a little before the end).
    assert.ok(
      on.halvedAfterMs !== null,
      `mode on: heap ${mib(on.physicalAtIdleStart)} when idle began, ${mib(on.physicalAtEnd)} at the end, never below half`,
    );
    // The control: the same process and trickle without the mode keeps what the burst left, throughout.
    assert.equal(off.favoured, false);
    assert.ok(
      off.halvedAfterMs === null,
      `mode off: heap ${mib(off.physicalAtIdleStart)} when idle began, below half after ${off.halvedAfterMs ?? 'never'} ms, ${mib(off.physicalAtEnd)} at the end`,
    );
  });
});
