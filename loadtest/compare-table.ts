// The table of loadtest/compare: µs of server CPU per delivered message for every run under DIR
// (DIR/r<round>/<transport>/<target>/summary.json), with each figure's ratio to the relay (floor) and to the
// better peer (the lower of Prosody and ejabberd) of the same round and transport, and the machine load before
// each run (DIR/load.txt). Markdown, for loadtest/RESULTS.md. `floor-xml` (the relay that also parses and writes
// back each message) shows what that least XML work adds to the relay.
//
//   node --import tsx loadtest/compare-table.ts DIR
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (dir === undefined || !existsSync(dir)) {
  process.stderr.write('usage: compare-table.ts DIR (the output directory of loadtest/compare)\n');
  process.exit(2);
}

interface Summary {
  cpu_us_per_msg: number | null;
  messages_delivered?: number;
  messages_sent?: number;
  steady_delivered?: number;
  steady_sent?: number;
  steady_server_cpu_pct: number | null;
  steady_latency_ms_p99?: number | null;
  msg_latency_ms_p99?: number | null;
  errors: string[];
}

const TRANSPORTS = ['tcp', 'websocket', 'bosh'];
const TARGETS = ['ratatosk', 'floor', 'floor-xml', 'floor-xml-own', 'prosody', 'ejabberd'];
const PEERS = ['prosody', 'ejabberd'];

const loads = new Map<string, string>();
const loadFile = path.join(dir, 'load.txt');
if (existsSync(loadFile)) {
  for (const line of readFileSync(loadFile, 'utf8').split('\n')) {
    const [round, transport, target, time, ...load] = line.split(' ');
    if (round && transport && target) loads.set(`${round}/${transport}/${target}`, `${time ?? ''}, load ${load.join(' ')}`);
  }
}

function read(file: string): Summary | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Summary) : undefined;
}
const ratio = (value: number | null | undefined, base: number | null | undefined): string =>
  value != null && base != null && base > 0 ? (value / base).toFixed(2) : '–';

const rounds = readdirSync(dir).filter((name) => /^r\d+$/.test(name)).sort();
const commitFile = path.join(dir, 'commit.txt');
if (existsSync(commitFile)) console.log(`${readFileSync(commitFile, 'utf8').trim()}\n`);
console.log('| Round | Transport | Server | µs CPU / delivered msg | × relay | × better peer | Delivered / sent (steady) | p99 latency (ms) | Server CPU | Started, load (1/5/15 min) |');
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---|');
const verdicts: string[] = [];
for (const round of rounds) {
  for (const transport of TRANSPORTS) {
    const runs = new Map<string, Summary>();
    for (const target of TARGETS) {
      const summary = read(path.join(dir, round, transport, target, 'summary.json'));
      if (summary) runs.set(target, summary);
    }
    if (runs.size === 0) continue;
    const floor = runs.get('floor')?.cpu_us_per_msg;
    const peerFigures = PEERS.map((p) => runs.get(p)?.cpu_us_per_msg).filter((v): v is number => v != null);
    const betterPeer = peerFigures.length > 0 ? Math.min(...peerFigures) : undefined;
    for (const [target, s] of runs) {
      const delivered = s.steady_delivered ?? s.messages_delivered ?? 0;
      const sent = s.steady_sent ?? s.messages_sent ?? 0;
      const p99 = s.steady_latency_ms_p99 ?? s.msg_latency_ms_p99 ?? null;
      const errors = s.errors.length > 0 ? ` ⚠ ${s.errors.join('; ')}` : '';
      console.log(
        `| ${round} | ${transport} | ${target} | ${s.cpu_us_per_msg ?? 'n/a'} | ${target === 'floor' ? '1' : ratio(s.cpu_us_per_msg, floor)} | ` +
          `${ratio(s.cpu_us_per_msg, betterPeer)} | ${delivered} / ${sent} | ${p99 ?? 'n/a'} | ${s.steady_server_cpu_pct ?? 'n/a'} % | ` +
          `${loads.get(`${round}/${transport}/${target}`) ?? ''}${errors} |`,
      );
    }
    const own = runs.get('ratatosk')?.cpu_us_per_msg;
    const withXml = runs.get('floor-xml')?.cpu_us_per_msg;
    const withOwnXml = runs.get('floor-xml-own')?.cpu_us_per_msg;
    if (own != null && floor != null && betterPeer !== undefined) {
      const toFloor = own / floor;
      const toPeer = own / betterPeer;
      const xmlFloor =
        (withXml != null ? `; the relay with the XML work alone (ltx) is ${(withXml / floor).toFixed(2)}× the relay` : '') +
        (withOwnXml != null ? `; with Ratatosk's own parser and serialiser ${(withOwnXml / floor).toFixed(2)}× the relay, ${(withOwnXml / betterPeer).toFixed(2)}× the better peer` : '');
      verdicts.push(
        `${round} ${transport}: Ratatosk ${own} µs = ${toFloor.toFixed(2)}× the relay (target ≤ 1.25: ${toFloor <= 1.25 ? 'met' : 'not met'}), ` +
          `${toPeer.toFixed(2)}× the better peer (target ≤ 0.5: ${toPeer <= 0.5 ? 'met' : 'not met'})${xmlFloor}`,
      );
    }
  }
}
if (verdicts.length > 0) console.log(`\n${verdicts.map((v) => `- ${v}`).join('\n')}`);
