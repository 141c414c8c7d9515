import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { archiveStoreContract } from './archive.contract.js';
import { archiveStores } from './index.js';

onBothBackEnds('mam', archiveStores, archiveStoreContract);
