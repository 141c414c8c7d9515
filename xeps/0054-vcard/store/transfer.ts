// The vCard in `ratatosk export`/`import`: on its account's line, the stored <vCard/> as a string.
import type { ModuleTransfer } from '../../../src/modules/api.js';
import { parseElement } from '../../../src/xml/element.js';
import type { VCardStore } from './types.js';

function vcardProblem(data: unknown): string | undefined {
  if (typeof data !== 'string') return 'expected the vCard as a string of XML';
  try {
    return parseElement(data).is('vCard', 'vcard-temp') ? undefined : 'expected a <vCard xmlns="vcard-temp"/> element';
  } catch (err) {
    return `not well-formed XML (${err instanceof Error ? err.message : String(err)})`;
  }
}

export const vcardTransfer: ModuleTransfer<VCardStore> = {
  exportAccount: (store, username) => store.get(username),
  checkAccount: vcardProblem,
  async importAccount(store, username, data) {
    if (typeof data === 'string') await store.set(username, data);
  },
};
