export { startHookwell, buildApi, VERSION, type Hookwell } from './server.js';
export { loadConfig, ConfigError, SETTINGS, type Config } from './config.js';
export { createLogger } from './logger.js';
export { SqliteStore } from './store/sqlite/store.js';
export type { Store } from './store/store.js';
