#!/usr/bin/env node
// Built by `npm ci` (the root prepare script runs tsc -b).
import '../dist/cli.js';
