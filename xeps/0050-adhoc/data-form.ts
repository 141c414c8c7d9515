// XEP-0004 Data Forms (version 2.13), as ad-hoc commands use them: forms and results the server
// builds (§3.1-§3.3), submissions it reads (§3.3, type "submit"; XEP-0050 §3.5.1 reads "cancel" alike).
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single' | 'text-multi' | 'text-private' | 'text-single';

export interface FieldOption {
  label?: string;
  value: string;
}

export interface FormField {
  var?: string;
  type?: FieldType;
  label?: string;
  required?: boolean;
  values?: readonly string[];
  options?: readonly FieldOption[];
}

export interface FormSpec {
  title?: string;
  instructions?: string;
  fields: readonly FormField[];
}

/** The hidden field that names the form's field set (XEP-0068). */
export function formTypeField(formType: string): FormField {
  return { type: 'hidden', var: 'FORM_TYPE', values: [formType] };
}

/** A form to fill in (type "form") or data returned (type "result"), fields in the given order. */
export function dataForm(type: 'form' | 'result', spec: FormSpec): Element {
  const x = xml('x', { xmlns: NS.dataForms, type });
  if (spec.title !== undefined) x.cnode(xml('title', null, spec.title));
  if (spec.instructions !== undefined) x.cnode(xml('instructions', null, spec.instructions));
  for (const field of spec.fields) {
    const el = xml('field', { type: field.type, label: field.label, var: field.var });
    if (field.required) el.cnode(xml('required'));
    for (const value of field.values ?? []) el.cnode(xml('value', null, value));
    for (const option of field.options ?? []) el.cnode(xml('option', { label: option.label }, xml('value', null, option.value)));
    x.cnode(el);
  }
  return x;
}

/** The values a requester submitted, by field var. */
export class FormValues {
  constructor(private readonly values: ReadonlyMap<string, readonly string[]> = new Map()) {}

  /** Reads a submission; undefined when `x` is not a data form of type submit (or cancel). */
  static read(x: Element): FormValues | undefined {
    if (x.name !== 'x' || x.attrs.xmlns !== NS.dataForms) return undefined;
    const type = x.attrs.type;
    if (type !== 'submit' && type !== 'cancel') return undefined;
    const values = new Map<string, string[]>();
    for (const field of x.getChildren('field')) {
      const name = field.attrs.var;
      if (name === undefined) continue;
      values.set(name, field.getChildren('value').map((v) => v.getText()));
    }
    return new FormValues(values);
  }

  /** The first value of a field, trimmed; undefined when the field is absent or empty. */
  single(name: string): string | undefined {
    const first = this.values.get(name)?.[0]?.trim();
    return first === undefined || first === '' ? undefined : first;
  }

  /** The value of a text-private field exactly as submitted (spaces are part of a password). */
  secret(name: string): string | undefined {
    const first = this.values.get(name)?.[0];
    return first === undefined || first === '' ? undefined : first;
  }

  /** The non-empty values of a field, trimmed. */
  multi(name: string): string[] {
    return (this.values.get(name) ?? []).map((v) => v.trim()).filter((v) => v !== '');
  }

  has(name: string): boolean {
    return this.single(name) !== undefined;
  }

  /** These values with `later`'s fields replacing those of the same name. */
  merge(later: FormValues): FormValues {
    return new FormValues(new Map([...this.values, ...later.values]));
  }
}

/** The vars of the fields a form marks <required/>. */
export function requiredFields(form: Element): string[] {
  return form
    .getChildren('field')
    .filter((f) => f.getChild('required') !== undefined && f.attrs.var !== undefined)
    .map((f) => f.attrs.var as string);
}
