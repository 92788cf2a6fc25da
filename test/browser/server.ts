/**
 * The local Stripes server for the browser tests and the browser benchmark: `npm start` with the
 * web build, on a free loopback port, its state in a temporary folder that `stop()` removes
 * (scripts/local-server.ts).
 */
import { resolve } from 'node:path';

export { freePort, startLocalServer, type LocalServer } from '../../scripts/local-server.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
