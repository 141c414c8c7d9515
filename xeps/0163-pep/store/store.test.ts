// The PEP store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { pepStores } from './index.js';
import { pepStoreContract } from './pep.contract.js';

onBothBackEnds('pep', pepStores, pepStoreContract);
