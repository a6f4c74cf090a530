import { planRouted } from './routed.js';
import type { Classification, ClassificationPlan, ClassifyHead, ClassifyInput } from './types.js';

export type { ActionOnResource, Classification, ClassificationPlan, ClassifyHead, ClassifyInput } from './types.js';

/**
 * Places a request from its head (service, protocol, and for REST the operation), or throws an
 * UnclassifiedRequest refusal. service/region come from the verified credential scope, never
 * from a guess at the host.
 */
export function planClassification(head: ClassifyHead): ClassificationPlan {
  return planRouted(head);
}

/** Both steps at once, for requests whose body is already at hand (tests, `policy explain`). */
export function classify(input: ClassifyInput): Classification {
  const plan = planRouted(input);
  return plan.classify(plan.buffersBody ? input.body : undefined);
}
