// Classifying hand-made requests in unit tests: defaults for what a case leaves out, the
// refusal a case expects as "Code: message", and needs as "action arn" lines.
import { classify, type Classification, type ClassifyInput } from '../../src/aws/classify/index.js';
import { refusal as refusalOf } from './refusal.js';

export type Request = Partial<ClassifyInput> & Pick<ClassifyInput, 'method' | 'host' | 'rawPath' | 'service'>;

export function run(request: Request): Classification {
  return classify({ query: {}, headers: {}, body: undefined, region: 'us-east-1', ...request });
}

export function refusal(request: Request): string {
  const { code, message } = refusalOf(() => run(request));
  return `${code}: ${message}`;
}

export const pairs = (c: Classification): string[] => c.needs.map((n) => `${n.action} ${n.resource.arn}${n.wildcard === true ? ' (pattern)' : ''}`);
