import { CountersignError } from '../../errors.js';
import { dynamodbClassifier } from './dynamodb.js';
import { iamClassifier, stsClassifier } from './query.js';
import { s3Classifier } from './s3.js';
import type { Classification, ClassifyInput, ServiceClassifier } from './types.js';

export type { ActionOnResource, Classification, ClassifyInput, ServiceClassifier } from './types.js';

/** The classifier per SigV4 signing name. Services not listed here are refused. */
const CLASSIFIERS: Readonly<Record<string, ServiceClassifier>> = {
  s3: s3Classifier,
  dynamodb: dynamodbClassifier,
  sts: stsClassifier,
  iam: iamClassifier,
};

export function classifierFor(service: string): ServiceClassifier {
  const classifier = Object.hasOwn(CLASSIFIERS, service) ? CLASSIFIERS[service] : undefined;
  if (classifier === undefined) {
    throw new CountersignError('UnclassifiedRequest', `Requests to the AWS service "${service.slice(0, 64)}" are not supported yet.`);
  }
  return classifier;
}

/** service/region come from the verified credential scope, never from a guess at the host. */
export function classify(input: ClassifyInput): Classification {
  return classifierFor(input.service).classify(input);
}
