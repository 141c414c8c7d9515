// The private XML store's contract on both back ends, opened as the server opens the module's stores.
import { onBothBackEnds } from '../../../src/storage/contract/module-fixture.js';
import { privateXmlStores } from './index.js';
import { privateXmlStoreContract } from './private-xml.contract.js';

onBothBackEnds('private', privateXmlStores, privateXmlStoreContract);
