// @hookwell/health: the health event catalogue's types (generated into events.ts from
// catalog/*.json), healthHandlers, and the shape of the catalogue's files.
export * from './events.js';
export * from './catalog.js';
