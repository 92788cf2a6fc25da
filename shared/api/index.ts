/** The API contract between the worker, the CLI and the web app. */
export * from './errors.ts';
export * from './pairs.ts';
export * from './params.ts';
export * from './paths.ts';
export * from './text.ts';
export * from './tokens.ts';
export * from './versions.ts';
