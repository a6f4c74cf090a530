import type { Criterion } from './types.js';

/** The request body must be at most `max` bytes; a streamed body of unknown size never fits. */
export function requestSizeCriterion(max: number): Criterion {
  return { code: 'REQUEST_TOO_LARGE', matches: (facts) => facts.requestBytes !== undefined && facts.requestBytes <= max };
}
