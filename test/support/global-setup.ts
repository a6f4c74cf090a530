// Starts each suite run with an empty evidence directory (test/support/evidence.ts).
import { rmSync } from 'node:fs';
import { EVIDENCE_DIR } from './evidence.js';

export default function setup(): void {
  rmSync(EVIDENCE_DIR, { recursive: true, force: true });
}
