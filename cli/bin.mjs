#!/usr/bin/env node
// The `stripes` command: runs the TypeScript CLI through tsx so the checkout needs no build step.
import { register } from 'tsx/esm/api';
register();
await import('./main.ts');
