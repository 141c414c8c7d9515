// The private XML store (XEP-0049 §2): fragments per account, each under "<element name> <namespace>",
// serialised XML kept as sent. Implemented in embedded.ts (LMDB) and postgres.ts (the private_xml table,
// migrations/0009_private_xml.sql); both pass private-xml.contract.ts.

export interface PrivateXmlStore {
  /** `key` is "<element name> <namespace>" of the stored child. */
  get(username: string, key: string): Promise<string | undefined>;
  set(username: string, key: string, xml: string): Promise<void>;
  delete(username: string, key: string): Promise<boolean>;
  /** Every fragment of the user, sorted by key (for `ratatosk export`). */
  entries(username: string): Promise<Array<{ key: string; xml: string }>>;
}
