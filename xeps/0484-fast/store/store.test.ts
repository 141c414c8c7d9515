// The FAST token store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { fastStores } from './index.js';
import { fastTokenStoreContract } from './tokens.contract.js';

onBothBackEnds('fast', fastStores, fastTokenStoreContract);
