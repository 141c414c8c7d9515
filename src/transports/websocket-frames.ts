// RFC 6455 §5.2 framing of what the server sends over XMPP-over-WebSocket (RFC 7395 §3.3.3: one stanza
// per text frame): final, unmasked (§5.1: a server never masks) text frames, several of them encoded into
// one buffer so that a connection's frames of one turn take one write. Frames from the ws library (ping,
// pong, close) go to the same socket between these writes, never inside one.

const OPCODE_TEXT_FINAL = 0x81;
/** §5.2: payload lengths up to 125 fit the 7-bit field; 126 announces a 16-bit length, 127 a 64-bit one. */
const SHORT_MAX = 125;
const MEDIUM_MAX = 0xffff;

function headerBytes(payload: number): number {
  if (payload <= SHORT_MAX) return 2;
  return payload <= MEDIUM_MAX ? 4 : 10;
}

/** The text frames of `texts`, in order, as one buffer. */
export function encodeTextFrames(texts: readonly string[]): Buffer {
  const lengths = new Array<number>(texts.length);
  let total = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = Buffer.byteLength(texts[i] ?? '', 'utf8');
    lengths[i] = length;
    total += headerBytes(length) + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < texts.length; i++) {
    const length = lengths[i] ?? 0;
    out[at] = OPCODE_TEXT_FINAL;
    if (length <= SHORT_MAX) {
      out[at + 1] = length;
      at += 2;
    } else if (length <= MEDIUM_MAX) {
      out[at + 1] = 126;
      out.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 127;
      out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
      out.writeUInt32BE(length >>> 0, at + 6);
      at += 10;
    }
    at += out.write(texts[i] ?? '', at, length, 'utf8');
  }
  return out;
}
