// The vCard store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { vcardStores } from './index.js';
import { vcardStoreContract } from './vcards.contract.js';

onBothBackEnds('vcard', vcardStores, vcardStoreContract);
