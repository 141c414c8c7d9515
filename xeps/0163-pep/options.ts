// Node configuration as XEP-0060 data forms: publish-options (§7.1.5, FORM_TYPE pubsub#publish-options) and
// the owner's configure form (§8.2, FORM_TYPE pubsub#node_config), with the fields PEP nodes support here.
import { StanzaError } from '../../src/errors.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { AccessModel, NodeConfig, SendLastItem } from './store/types.js';

const ACCESS_MODELS: readonly AccessModel[] = ['presence', 'open', 'whitelist'];
const SEND_LAST: readonly SendLastItem[] = ['never', 'on_sub', 'on_sub_and_presence'];

/** The fields of a submitted form that name node options, each with its first value. */
export type OptionValues = ReadonlyMap<string, string>;

export function pubsubError(condition: ConstructorParameters<typeof StanzaError>[0], app: string | undefined, text: string): StanzaError {
  return new StanzaError(condition, text, undefined, app === undefined ? undefined : xml(app, { xmlns: NS.pubsubErrors }));
}

const bool = (value: string): boolean | undefined => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : undefined);

/** Reads a submitted form of `formType`; bad-request for a form of another type or none. */
export function formValues(x: Element | undefined, formType: string): Map<string, string> {
  if (x === undefined || (x.attrs.type !== 'submit' && x.attrs.type !== undefined)) throw new StanzaError('bad-request', 'expected a submitted jabber:x:data form');
  const values = new Map<string, string>();
  for (const field of x.getChildren('field')) {
    const name = field.attrs.var;
    if (typeof name !== 'string' || name === '') throw new StanzaError('bad-request', 'a form field without var');
    values.set(name, field.getChildText('value') ?? '');
  }
  const type = values.get('FORM_TYPE');
  if (type !== undefined && type !== formType) throw new StanzaError('bad-request', `the form's FORM_TYPE must be ${formType}`);
  values.delete('FORM_TYPE');
  return values;
}

/**
 * The configuration `base` changed by the submitted values; `invalid` builds the error for a field that is not
 * supported or a value out of range (publish-options: precondition-not-met; configure: not-acceptable).
 */
export function applyOptions(base: NodeConfig, values: OptionValues, maxItemsCap: number, invalid: (text: string) => StanzaError): NodeConfig {
  let config = { ...base };
  for (const [field, value] of values) {
    switch (field) {
      case 'pubsub#access_model': {
        const model = ACCESS_MODELS.find((m) => m === value);
        if (model === undefined) throw invalid(`access model "${value}" is not supported (presence, open, whitelist)`);
        config = { ...config, accessModel: model };
        break;
      }
      case 'pubsub#max_items': {
        const n = value === 'max' ? maxItemsCap : /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n >= 1 && n <= maxItemsCap)) throw invalid(`pubsub#max_items must be 1 to ${maxItemsCap} or "max"`);
        config = { ...config, maxItems: n };
        break;
      }
      case 'pubsub#send_last_published_item': {
        const when = SEND_LAST.find((m) => m === value);
        if (when === undefined) throw invalid(`pubsub#send_last_published_item "${value}" is not supported`);
        config = { ...config, sendLastPublishedItem: when };
        break;
      }
      case 'pubsub#notify_retract': {
        const flag = bool(value);
        if (flag === undefined) throw invalid('pubsub#notify_retract must be a boolean');
        config = { ...config, notifyRetract: flag };
        break;
      }
      case 'pubsub#persist_items':
        // Items are always persisted.
        if (bool(value) !== true) throw invalid('items are always persisted here');
        break;
      case 'pubsub#notify_delete':
        if (bool(value) !== true) throw invalid('node deletion is always notified here');
        break;
      case 'pubsub#deliver_payloads':
        if (bool(value) !== true) throw invalid('notifications always carry the payload here');
        break;
      default:
        throw invalid(`the option ${field} is not supported`);
    }
  }
  return config;
}

/**
 * §7.1.5: the node exists and each given option must match its configuration ('max' matching the cap);
 * a mismatch is conflict + precondition-not-met.
 */
export function checkPreconditions(config: NodeConfig, values: OptionValues, maxItemsCap: number): void {
  const notMet = (text: string): StanzaError => pubsubError('conflict', 'precondition-not-met', text);
  const wanted = applyOptions(config, values, maxItemsCap, notMet);
  for (const key of Object.keys(config) as Array<keyof NodeConfig>) {
    if (wanted[key] !== config[key]) throw notMet(`the node's ${key} is ${String(config[key])}, not ${String(wanted[key])}`);
  }
}

/** §8.2 Example 126: the configuration form the owner gets. */
export function configForm(config: NodeConfig): Element {
  const field = (name: string, type: string, value: string, options: readonly string[] = []): Element =>
    xml('field', { var: name, type }, xml('value', {}, value), ...options.map((o) => xml('option', {}, xml('value', {}, o))));
  return xml('x', { xmlns: NS.dataForms, type: 'form' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.pubsubNodeConfig)),
    field('pubsub#access_model', 'list-single', config.accessModel, ACCESS_MODELS),
    field('pubsub#max_items', 'text-single', String(config.maxItems)),
    field('pubsub#send_last_published_item', 'list-single', config.sendLastPublishedItem, SEND_LAST),
    field('pubsub#notify_retract', 'boolean', config.notifyRetract ? 'true' : 'false'),
    field('pubsub#persist_items', 'boolean', 'true'),
    field('pubsub#deliver_payloads', 'boolean', 'true'));
}
