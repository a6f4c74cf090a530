import { runDemo } from '../demo/run.js';
import { command } from './args.js';
import { cliInvocation } from './invocation.js';

export const demo = command(
  {
    name: 'demo',
    summary: 'Try countersign without AWS: a local AWS emulator, the example policies, three calls to paste.',
    details: [
      'Starts countersign in front of a local AWS with the example policies and prints three calls to paste: an allowed one, a denied one, and one held until a reviewer approves it.',
      'Needs Python with the test tools (python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt): moto runs as the local AWS, with request authentication on, and the AWS CLI is the agent. The demo creates the roles the example policies name and two buckets in it, starts countersign on free loopback ports with a key for the agent report-bot, and prints the commands. When a call is held, it prints the review link and the CLI command that approves it.',
      'Everything lives in a temporary directory; Ctrl-C stops what the demo started and removes it. Your own AWS settings are not used.',
    ],
    examples: ['npm run demo', 'countersign demo'],
  },
  (_args, io) => runDemo({ out: (line) => io.out(line), cli: cliInvocation() }),
);
