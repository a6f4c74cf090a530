#!/usr/bin/env node
// The built CLI (npm ci builds it through the prepare script).
import '../dist/cli/main.js';
