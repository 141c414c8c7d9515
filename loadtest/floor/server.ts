// A yardstick, not a server: the least a Node.js process can do and still carry the load scenarios, Tsung's
// over plain TCP (loadtest/tsung) and xmpp-load's over WebSocket and BOSH (loadtest/xmpp-load). It accepts any
// password, keeps no roster (it answers a synthetic one), no presence, no privacy lists, no offline storage and
// checks nothing; it recognises the scenarios' few requests by their first bytes and relays each <message/> to
// the recipient's connection with one write, adding `from`. What it spends per message is what the kernel,
// libuv and V8 charge any Node server on this machine (README.md); loadtest/run --target floor runs it.
//
//   node --import tsx loadtest/floor/server.ts --host 127.0.0.1 --port 5222 --http-port 5280 --domain tsung.test \
//     --users 1000 --roster-size 10 [--xml-work 0|1|own [--ratatosk-dist dist]]
import http from 'node:http';
import { boshHandler } from './bosh.js';
import { LTX_WORK, online, ownXmlWork, type FloorOptions } from './session.js';
import { tcpListener } from './tcp.js';
import { attachWebSocket } from './websocket.js';

interface Options extends FloorOptions {
  host: string;
  port: number;
  /** WebSocket and BOSH; 0: none. */
  httpPort: number;
  /** --xml-work: 0 none, 1 ltx, own Ratatosk's parser and serialiser from `ratatoskDist`. */
  xmlMode: '0' | '1' | 'own';
  ratatoskDist: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { host: '127.0.0.1', port: 5222, httpPort: 0, domain: 'localhost', users: 0, rosterSize: 0, xmlMode: '0', ratatoskDist: 'dist' };
  const numbers: Record<string, 'port' | 'httpPort' | 'users' | 'rosterSize'> = {
    '--port': 'port',
    '--http-port': 'httpPort',
    '--users': 'users',
    '--roster-size': 'rosterSize',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const numeric = numbers[flag];
    if (flag === '--host') options.host = value;
    else if (flag === '--domain') options.domain = value;
    else if (flag === '--xml-work' && (value === '0' || value === '1' || value === 'own')) options.xmlMode = value;
    else if (flag === '--ratatosk-dist') options.ratatoskDist = value;
    else if (numeric !== undefined) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number`);
      options[numeric] = n;
    } else throw new Error(`unknown option ${flag} (--host, --port, --http-port, --domain, --users, --roster-size, --xml-work 0|1|own, --ratatosk-dist)`);
  }
  for (const [flag, port] of [['--port', options.port], ['--http-port', options.httpPort]] as const) {
    if (port > 65535 || (flag === '--port' && port < 1)) throw new Error(`${flag} must be 1-65535`);
  }
  return options;
}

let options: Options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`floor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
if (options.xmlMode === '1') options.xmlWork = LTX_WORK;
else if (options.xmlMode === 'own') {
  try {
    options.xmlWork = await ownXmlWork(options.ratatoskDist);
  } catch (err) {
    process.stderr.write(`floor: --xml-work own needs a build of Ratatosk at ${options.ratatoskDist} (npm run build): ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
}

const tcp = tcpListener(options);
tcp.listen(options.port, options.host, () => process.stderr.write(`floor relay: TCP on ${options.host}:${options.port} for ${options.domain}\n`));

let web: http.Server | undefined;
if (options.httpPort > 0) {
  const bosh = boshHandler(options);
  web = http.createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/http-bind') return bosh(request, response);
    response.writeHead(404).end();
  });
  attachWebSocket(web, options);
  web.listen(options.httpPort, options.host, () =>
    process.stderr.write(`floor relay: WebSocket /xmpp-websocket and BOSH /http-bind on ${options.host}:${options.httpPort}\n`),
  );
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    tcp.close();
    web?.close();
    online.clear();
    process.exit(0);
  });
}
