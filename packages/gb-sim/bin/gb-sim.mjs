#!/usr/bin/env node
// Runs the TypeScript CLI under tsx (the repository has no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
