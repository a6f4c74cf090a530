import { formParameters, jsonBodyOf, locationReader, type RequestParts } from '../routes/iam-actions.js';
import type { RouteOperation } from '../routes/table.js';

/**
 * The request parameters a policy rule may test (`conditions.parameters`), as strings:
 *  - JSON bodies: every top-level member; strings as sent, anything else as compact JSON;
 *  - query/EC2 forms: every parameter but Action and Version (flattened names: `Tags.member.1.Key`);
 *  - REST: path labels (Bucket, Key, FunctionName, ...), the members the IAM entries read
 *    (VersionId, ACL, CopySource, ...) and camel-case query parameters by their capitalised
 *    name (prefix → Prefix); never the body's own keys, which may be the caller's payload.
 * JSON documents inside strings (IAM PolicyDocument) are re-serialised compactly, so a rule's
 * glob like `*"Action":"*"*` does not depend on the agent's whitespace.
 */
export function parametersOf(op: RouteOperation, parts: RequestParts): Record<string, string> {
  const out: Record<string, string> = {};
  if (parts.protocol === 'query' || parts.protocol === 'ec2') {
    for (const [key, value] of formParameters(parts)) if (key !== 'Action' && key !== 'Version') out[key] = compactJson(value);
    return out;
  }
  if (parts.protocol === 'json') {
    const json = parts.body === undefined ? undefined : jsonBodyOf(parts.body);
    const members = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
    for (const [key, value] of Object.entries(members)) out[key] = typeof value === 'string' ? compactJson(value) : JSON.stringify(value);
    return out;
  }
  // REST: a body may be a payload of the caller's own (Lambda Invoke), so only modelled members count.
  for (const [name, value] of Object.entries(parts.query)) {
    const text = typeof value === 'string' ? value : value.join(',');
    if (/^[a-z][A-Za-z]*$/.test(name) && text !== '') out[name.charAt(0).toUpperCase() + name.slice(1)] = text;
  }
  const read = locationReader(parts);
  for (const [member, location] of Object.entries(op.members)) {
    if (member.includes('.') || location.includes('[]')) continue;
    const values = read(location);
    if (values !== undefined && values.length > 0) out[member] = values.map(compactJson).join(',');
  }
  for (const [label, value] of Object.entries(parts.labels ?? {})) out[label] = value;
  return out;
}

function compactJson(value: string): string {
  const first = value.trimStart().charAt(0);
  if (first !== '{' && first !== '[') return value;
  try {
    return JSON.stringify(JSON.parse(value));
  } catch {
    return value; // not JSON after all: the text as sent
  }
}
