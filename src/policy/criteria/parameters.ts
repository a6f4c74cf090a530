import { compileGlobs, type Matcher } from '../glob.js';
import type { Criterion } from './types.js';

/**
 * Request parameters (TableName, an S3 Key, the PolicyDocument an agent wants to attach): each
 * named parameter must be present and match one of its globs. A missing parameter never matches.
 */
export function parametersCriterion(parameters: Readonly<Record<string, readonly string[]>>): Criterion {
  const matchers: Array<[string, Matcher]> = Object.entries(parameters).map(([name, globs]) => [name, compileGlobs(globs)]);
  return {
    code: 'PARAMETER_MISMATCH',
    matches: (facts) =>
      matchers.every(([name, matcher]) => {
        const value = facts.parameters[name];
        return value !== undefined && matcher(value);
      }),
  };
}
