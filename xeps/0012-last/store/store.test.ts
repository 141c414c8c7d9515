// The last-activity store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { lastActivityStores } from './index.js';
import { lastActivityStoreContract } from './last-activity.contract.js';

onBothBackEnds('last', lastActivityStores, lastActivityStoreContract);
