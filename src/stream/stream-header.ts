// What every XML stream over TCP shares, whatever its content namespace (jabber:client here,
// jabber:component:accept for XEP-0114 components): the header's namespaces (RFC 6120 §4.8), the
// header the server writes (§4.7) and the text that ends a stream, after an error (§4.9) or not (§4.4).
import { StreamError } from '../errors.js';
import { escapeAttr } from '../xml/element.js';
import { NS } from '../xml/ns.js';

/**
 * RFC 6120 §4.8.1: the stream element is qualified by the streams namespace, with any prefix; §4.8.2: the
 * content namespace is the header's default namespace. An unprefixed stream element makes the streams
 * namespace the default one, so it declares no content namespace. Both failures are invalid-namespace (§4.9.3.10).
 */
export function checkStreamNamespaces(name: string, attrs: Readonly<Record<string, string>>, contentNamespace: string): StreamError | undefined {
  const colon = name.indexOf(':');
  const prefix = colon === -1 ? '' : name.slice(0, colon);
  const local = colon === -1 ? name : name.slice(colon + 1);
  const streamNamespace = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (local !== 'stream' || streamNamespace !== NS.stream) return new StreamError('invalid-namespace', `the stream element must be in ${NS.stream}`);
  if (!prefix || attrs.xmlns !== contentNamespace) return new StreamError('invalid-namespace', `the default namespace must be ${contentNamespace}`);
  return undefined;
}

/** The server's stream header: `attrs` in the order given, namespace declarations included. */
export function streamHeaderText(attrs: Readonly<Record<string, string>>): string {
  let header = "<?xml version='1.0'?><stream:stream";
  for (const [key, value] of Object.entries(attrs)) header += ` ${key}='${escapeAttr(value)}'`;
  return `${header}>`;
}

/** The last thing written on a stream: the error, if any, then the closing tag. */
export function streamCloseText(error?: StreamError): string {
  return error ? `${error.toElement().toString()}</stream:stream>` : '</stream:stream>';
}
