// The floor relay over plain TCP (RFC 6120 framing, no TLS): what Tsung's scenarios need.
import net from 'node:net';
import { FloorSession, splitPieces, type FloorOptions } from './session.js';

let streams = 0;

function streamHeader(domain: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='${domain}' id='t${++streams}' version='1.0'>`;
}

export function tcpListener(options: FloorOptions): net.Server {
  return net.createServer({ noDelay: true }, (socket) => {
    let buffer = '';
    const session = new FloorSession(options, (text) => void socket.write(text));
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('close', () => session.close());
    socket.on('data', (chunk: string) => {
      buffer = splitPieces(buffer + chunk, (piece) => {
        if (piece.startsWith('<?xml')) return;
        if (piece.startsWith('<stream:stream')) socket.write(streamHeader(options.domain) + session.features());
        else if (piece.startsWith('</stream:stream>')) socket.end('</stream:stream>');
        else session.handle(piece);
      });
    });
  });
}
