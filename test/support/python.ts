// Locating the Python-based test tools (moto_server, aws, python, mitmdump): the same lookup
// the demo uses (src/demo/tools.ts), so the tests and `countersign demo` find the same tools.
export { findOnPath, repoRoot, venvBin, venvBinDir } from '../../src/demo/tools.js';
