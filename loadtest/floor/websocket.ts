// The floor relay over WebSocket (RFC 7395) at /xmpp-websocket, with the `ws` package as Ratatosk uses it:
// subprotocol `xmpp`, one element per text frame, <open/> and <close/> for the stream.
import type http from 'node:http';
import { WebSocketServer, type RawData } from 'ws';
import { FloorSession, type FloorOptions } from './session.js';

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
let streams = 0;

export function attachWebSocket(server: http.Server, options: FloorOptions): void {
  const wss = new WebSocketServer({
    server,
    path: '/xmpp-websocket',
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
  });
  wss.on('connection', (ws) => {
    const session = new FloorSession(options, (text) => ws.send(text));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => session.close());
    ws.on('message', (data: RawData) => {
      const frame = data.toString();
      if (frame.startsWith('<open')) {
        ws.send(`<open xmlns='${NS_FRAMING}' from='${options.domain}' id='w${++streams}' version='1.0' xml:lang='en'/>`);
        ws.send(session.features());
      } else if (frame.startsWith('<close')) {
        ws.send(`<close xmlns='${NS_FRAMING}'/>`);
        ws.close(1000);
      } else session.handle(frame);
    });
  });
}
