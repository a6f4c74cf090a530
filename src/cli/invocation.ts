import { basename, isAbsolute, relative } from 'node:path';

/**
 * How the person ran this CLI, to print commands they can paste: `countersign` when it was the
 * installed bin, else `node dist/cli/main.js` (relative to the working directory when inside it).
 * Never `npx countersign`: outside the checkout npx fetches whatever npm package has that name.
 */
export function cliInvocation(script: string = process.argv[1] ?? '', cwd: string = process.cwd()): string {
  if (basename(script) === 'countersign') return 'countersign';
  const inside = relative(cwd, script);
  const path = cwd !== '/' && inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : script;
  return `node ${/[^\w./@+-]/.test(path) ? `'${path.replace(/'/g, `'\\''`)}'` : path}`;
}
