// The built-in protocol modules, started in this order.
import type { ModuleDefinition } from '../src/modules/api.js';
import last from './0012-last/index.js';
import privacy from './0016-privacy/index.js';
import disco from './0030-disco/index.js';
import privateXml from './0049-private/index.js';
import adhoc from './0050-adhoc/index.js';
import vcard from './0054-vcard/index.js';
import register from './0077-register/index.js';
import version from './0092-version/index.js';
import component from './0114-component/index.js';
import caps from './0115-caps/index.js';
import pep from './0163-pep/index.js';
import time from './0202-time/index.js';
import ping from './0199-ping/index.js';
import streamManagement from './0198-sm/index.js';
import carbons from './0280-carbons/index.js';
import clientState from './0352-csi/index.js';
import push from './0357-push/index.js';
import mam from './0313-mam/index.js';
import muc from './0045-muc/index.js';
import upload from './0363-upload/index.js';
import fast from './0484-fast/index.js';
import im from './rfc6121-im/index.js';

export const BUILTIN_MODULES: readonly ModuleDefinition[] = [disco, ping, streamManagement, version, time, im, privacy, component, register, vcard, privateXml, last, caps, pep, adhoc, muc, carbons, clientState, push, mam, upload, fast];
