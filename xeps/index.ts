// The built-in protocol modules, started in this order.
import type { ModuleDefinition } from '../src/modules/api.js';
import privacy from './0016-privacy/index.js';
import disco from './0030-disco/index.js';
import version from './0092-version/index.js';
import ping from './0199-ping/index.js';
import im from './rfc6121-im/index.js';

export const BUILTIN_MODULES: readonly ModuleDefinition[] = [disco, ping, version, im, privacy];
