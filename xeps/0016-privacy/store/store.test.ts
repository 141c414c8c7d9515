// The privacy and block-list stores' contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { privacyStores } from './index.js';
import { privacyStoreContract } from './privacy.contract.js';

onBothBackEnds('privacy', privacyStores, privacyStoreContract);
