// The MUC rooms store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { mucStores } from './index.js';
import { roomStoreContract } from './rooms.contract.js';

onBothBackEnds('muc', mucStores, roomStoreContract);
