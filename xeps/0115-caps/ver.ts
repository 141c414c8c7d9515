// XEP-0115 Entity Capabilities (version 1.6.0) §5.1: the verification string, a SHA-1 over the
// identities, features and extended-information forms (XEP-0128) an entity answers disco#info with.
import { createHash } from 'node:crypto';

export interface CapsIdentity {
  category: string;
  type: string;
  lang?: string;
  name?: string;
}

export interface CapsForm {
  /** The value of the hidden FORM_TYPE field. */
  formType: string;
  /** The other fields, each with its values. */
  fields: ReadonlyArray<{ var: string; values: readonly string[] }>;
}

/** §5.1: 'All sorting operations MUST be performed using "i;octet" collation', i.e. by UTF-8 bytes. */
function octetCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const sorted = (values: readonly string[]): string[] => [...values].sort(octetCompare);

/** The string S of §5.1 steps 1-7, before hashing. */
export function capsInput(identities: readonly CapsIdentity[], features: readonly string[], forms: readonly CapsForm[] = []): string {
  let s = '';
  // Steps 2-3: by category, then type, then xml:lang; each as category/type/lang/name<.
  const byIdentity = [...identities].sort(
    (a, b) => octetCompare(a.category, b.category) || octetCompare(a.type, b.type) || octetCompare(a.lang ?? '', b.lang ?? ''),
  );
  for (const id of byIdentity) s += `${id.category}/${id.type}/${id.lang ?? ''}/${id.name ?? ''}<`;
  // Steps 4-5.
  for (const feature of sorted(features)) s += `${feature}<`;
  // Steps 6-7: forms by FORM_TYPE; in each, fields by var, values sorted.
  for (const form of [...forms].sort((a, b) => octetCompare(a.formType, b.formType))) {
    s += `${form.formType}<`;
    for (const field of [...form.fields].filter((f) => f.var !== 'FORM_TYPE').sort((a, b) => octetCompare(a.var, b.var))) {
      s += `${field.var}<`;
      for (const value of sorted(field.values)) s += `${value}<`;
    }
  }
  return s;
}

/** Steps 8-9: S in UTF-8, hashed with SHA-1, in base64 (the 'ver' attribute for hash='sha-1'). */
export function verificationString(identities: readonly CapsIdentity[], features: readonly string[], forms: readonly CapsForm[] = []): string {
  return createHash('sha1').update(capsInput(identities, features, forms), 'utf8').digest('base64');
}
