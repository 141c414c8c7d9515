// A yardstick, not a server: the least a Node.js process can do and still carry Tsung's message-rate
// scenario (loadtest/tsung/message-rate.xml.in) over plain TCP. It accepts any password, keeps no roster,
// no presence, no privacy lists, no offline storage and checks nothing; it recognises Tsung's few requests
// by their first bytes and relays each <message/> to the recipient's socket with one write, adding `from`.
// What it spends per message is what the kernel, libuv and V8 charge any Node server on this machine
// (loadtest/floor/README.md); loadtest/run --target floor runs it.
//
//   node --import tsx loadtest/floor/server.ts --host 127.0.0.1 --port 5222 --domain tsung.test
import net from 'node:net';

interface Options {
  host: string;
  port: number;
  domain: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { host: '127.0.0.1', port: 5222, domain: 'localhost' };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${argv[i] ?? ''} needs a value`);
    if (argv[i] === '--host') options.host = value;
    else if (argv[i] === '--port') options.port = Number(value);
    else if (argv[i] === '--domain') options.domain = value;
    else throw new Error(`unknown option ${argv[i] ?? ''} (--host, --port, --domain)`);
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) throw new Error('--port must be 1-65535');
  return options;
}

const options = parseOptions(process.argv.slice(2));
const online = new Map<string, net.Socket>();

function streamHeader(id: number): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='${options.domain}' id='f${id}' version='1.0'>`;
}
const features = {
  sasl: `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
  bind: `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`,
};

/** The next complete top-level piece of `text` from `start`: its end offset, or -1 when incomplete. */
function pieceEnd(text: string, start: number): number {
  if (text.startsWith('<?xml', start)) return text.indexOf('?>', start) < 0 ? -1 : text.indexOf('?>', start) + 2;
  if (text.startsWith('<stream:stream', start)) {
    const end = text.indexOf('>', start);
    return end < 0 ? -1 : end + 1;
  }
  if (text.startsWith('</stream:stream>', start)) return start + 16;
  const nameEnd = text.slice(start + 1, start + 40).search(/[\s/>]/);
  if (nameEnd < 0) return -1;
  const name = text.slice(start + 1, start + 1 + nameEnd);
  const tagEnd = text.indexOf('>', start);
  if (tagEnd < 0) return -1;
  if (text[tagEnd - 1] === '/') return tagEnd + 1;
  const close = text.indexOf(`</${name}>`, tagEnd);
  return close < 0 ? -1 : close + name.length + 3;
}

function attribute(piece: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}=(['"])([^'"]*)\\1`).exec(piece.slice(0, piece.indexOf('>')));
  return match?.[2];
}

let streams = 0;
const server = net.createServer({ noDelay: true }, (socket) => {
  let buffer = '';
  let user = '';
  let fullJid = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (user && online.get(user) === socket) online.delete(user);
  });
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let at = 0;
    for (;;) {
      while (at < buffer.length && buffer[at] !== '<') at++;
      if (at >= buffer.length) break;
      const end = pieceEnd(buffer, at);
      if (end < 0) break;
      handle(buffer.slice(at, end));
      at = end;
    }
    buffer = buffer.slice(at);
  });

  function handle(piece: string): void {
    if (piece.startsWith('<message')) {
      const to = attribute(piece, 'to') ?? '';
      const slash = to.indexOf('/');
      const target = online.get(slash < 0 ? to : to.slice(0, slash));
      if (target) target.write(`<message from='${fullJid}'${piece.slice(8)}`);
      return;
    }
    if (piece.startsWith('<stream:stream')) {
      socket.write(streamHeader(++streams) + (user ? features.bind : features.sasl));
    } else if (piece.startsWith('<auth')) {
      const credentials = Buffer.from(piece.slice(piece.indexOf('>') + 1, piece.lastIndexOf('<')), 'base64').toString().split('\0');
      user = `${credentials[1] ?? ''}@${options.domain}`;
      socket.write(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`);
    } else if (piece.startsWith('<iq')) {
      const id = attribute(piece, 'id') ?? '';
      if (piece.includes('urn:ietf:params:xml:ns:xmpp-bind')) {
        fullJid = `${user}/${/<resource>([^<]*)</.exec(piece)?.[1] ?? 'floor'}`;
        online.set(user, socket);
        socket.write(`<iq type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>${fullJid}</jid></bind></iq>`);
      } else if (piece.includes('jabber:iq:roster')) {
        socket.write(`<iq type='result' id='${id}' to='${fullJid}'><query xmlns='jabber:iq:roster'/></iq>`);
      } else {
        socket.write(`<iq type='result' id='${id}'/>`);
      }
    } else if (piece.startsWith('</stream:stream>')) {
      socket.end('</stream:stream>');
    }
  }
});

server.listen(options.port, options.host, () => process.stderr.write(`floor relay on ${options.host}:${options.port} for ${options.domain}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    for (const socket of online.values()) socket.destroy();
    process.exit(0);
  });
}
