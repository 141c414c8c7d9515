// The push registrations store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { pushStores } from './index.js';
import { pushStoreContract } from './registrations.contract.js';

onBothBackEnds('push', pushStores, pushStoreContract);
