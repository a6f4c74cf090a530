// moto with request authentication on, as the tests' AWS: the module `countersign demo` uses too
// (src/demo/moto.ts), so the demo and the tests start and seed it the same way.
export { adminEnv, countersignEnv, seedDynamoTable, seedRoles, seedS3, seedUntrustingRole, startMoto, type MotoServer } from '../../src/demo/moto.js';
