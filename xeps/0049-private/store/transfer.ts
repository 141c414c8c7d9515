// Private XML in `ratatosk export`/`import`: on its account's line, an object of key ("<name> <namespace>")
// to the stored fragment's XML.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import { parseElement } from '../../../src/xml/element.js';
import type { PrivateXmlStore } from './types.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fragmentsProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'expected an object of "<element name> <namespace>" to XML';
  for (const [key, xml] of Object.entries(data)) {
    const [name, namespace, extra] = key.split(' ');
    if (name === undefined || namespace === undefined || extra !== undefined || name === '' || namespace === '') return `key ${JSON.stringify(key)}: expected "<element name> <namespace>"`;
    if (typeof xml !== 'string') return `${key}: expected a string of XML`;
    try {
      if (!parseElement(xml).is(name, namespace)) return `${key}: the XML is not a <${name} xmlns="${namespace}"/> element`;
    } catch (err) {
      return `${key}: not well-formed XML (${err instanceof Error ? err.message : String(err)})`;
    }
  }
  return undefined;
}

export const privateXmlTransfer: ModuleTransfer<PrivateXmlStore> = {
  async exportAccount(store, username) {
    const entries = await store.entries(username);
    if (entries.length === 0) return undefined;
    const data: { [key: string]: TransferValue } = {};
    for (const { key, xml } of entries) data[key] = xml;
    return data;
  },
  checkAccount: fragmentsProblem,
  async importAccount(store, username, data) {
    if (!isObject(data)) return;
    for (const [key, xml] of Object.entries(data)) if (typeof xml === 'string') await store.set(username, key, xml);
  },
};
