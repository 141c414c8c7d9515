// The vCard store (XEP-0054): one <vCard/> per account, serialised XML kept as sent. Implemented in
// embedded.ts (LMDB) and postgres.ts (migrations/0004_im_vcard_private.sql); both pass vcards.contract.ts.

export interface VCardStore {
  /** The <vCard/> element as stored, or undefined. */
  get(username: string): Promise<string | undefined>;
  set(username: string, vcard: string): Promise<void>;
  delete(username: string): Promise<boolean>;
}
