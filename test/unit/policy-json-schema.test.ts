// The JSON Schema editors use must describe the same keys the loader accepts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONDITIONS_KEYS, TIME_WINDOW_KEYS } from '../../src/policy/schema/conditions.js';
import { AGENT_KEYS, DIRECTORY_KEYS, GROUP_KEYS, REVIEWER_KEYS } from '../../src/policy/schema/directory.js';
import { METADATA_KEYS, POLICY_DOCUMENT_KEYS } from '../../src/policy/schema/document.js';
import { APPROVAL_KEYS, AWS_RULE_KEYS, CREDENTIALS_KEYS, HOST_RULE_KEYS } from '../../src/policy/schema/rule.js';

interface SchemaNode {
  properties?: Record<string, unknown>;
  oneOf?: SchemaNode[];
  $defs?: Record<string, SchemaNode>;
}

const schema = JSON.parse(readFileSync(new URL('../../docs/policy.schema.json', import.meta.url), 'utf8')) as SchemaNode;
const keys = (node: SchemaNode | undefined) => Object.keys(node?.properties ?? {}).sort();
const defs = schema.$defs ?? {};

describe('docs/policy.schema.json matches the loader', () => {
  it.each([
    ['awsRule', AWS_RULE_KEYS],
    ['hostRule', HOST_RULE_KEYS],
    ['conditions', CONDITIONS_KEYS],
    ['timeWindow', TIME_WINDOW_KEYS],
    ['credentials', CREDENTIALS_KEYS],
    ['approval', APPROVAL_KEYS],
    ['agent', AGENT_KEYS],
    ['reviewer', REVIEWER_KEYS],
    ['group', GROUP_KEYS],
    ['metadata', METADATA_KEYS],
  ])('%s has exactly the keys the loader accepts', (name, accepted) => {
    expect(keys(defs[name])).toEqual([...accepted].sort());
  });

  it('describes Policy and Directory documents with the loader keys', () => {
    expect(keys(schema.oneOf?.[0])).toEqual([...POLICY_DOCUMENT_KEYS].sort());
    expect(keys(schema.oneOf?.[1])).toEqual([...DIRECTORY_KEYS].sort());
  });
});
