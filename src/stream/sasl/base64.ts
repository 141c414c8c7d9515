// Strict base64 (RFC 4648 §4) for SASL: RFC 6120 §6.4.2 requires answering incorrectly encoded data
// with <incorrect-encoding/>, and RFC 5802 §5.1 carries the SCRAM proof and channel binding in it.
// Node's own decoder quietly skips characters outside the alphabet and ignores non-zero pad bits,
// so only the canonical form (the one re-encoding gives back) is accepted.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of canonical base64 text ('' is zero bytes), or undefined for anything else. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
