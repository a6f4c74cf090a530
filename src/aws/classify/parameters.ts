import { scanJson } from '../json-scan.js';
import { nameForMessage } from '../query-string.js';
import { formParameters, jsonBodyOf, jsonRefusal, locationReader, malformedBody, type RequestParts } from '../routes/iam-actions.js';
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
    for (const [key, value] of formParameters(parts)) if (key !== 'Action' && key !== 'Version') out[key] = compactJson(key, value);
    return out;
  }
  if (parts.protocol === 'json') {
    const json = parts.body === undefined ? undefined : jsonBodyOf(parts.body);
    // A body AWS may read some way and countersign cannot: no parameters would be a guess.
    if (json === undefined && parts.body !== undefined) throw malformedBody(parts);
    const members = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
    for (const [key, value] of Object.entries(members)) out[key] = typeof value === 'string' ? compactJson(key, value) : JSON.stringify(value);
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
    if (values === undefined && parts.body !== undefined && (location.startsWith('body:') || location.startsWith('xml:'))) throw malformedBody(parts);
    if (values !== undefined && values.length > 0) out[member] = values.map((value) => compactJson(member, value)).join(',');
  }
  for (const [label, value] of Object.entries(parts.labels ?? {})) out[label] = value;
  return out;
}

/**
 * A JSON document in a parameter, compacted; any other text as sent. A document with a key twice
 * in one object is refused, not compacted: JSON.parse would keep the last (`"Action":"*"` hidden
 * behind a second "Action") where IAM or another reader may keep the first. Too deep a document
 * is refused before JSON.stringify recurses into it.
 */
function compactJson(name: string, value: string): string {
  const first = value.trimStart().charAt(0);
  if (first !== '{' && first !== '[') return value;
  const problem = scanJson(value);
  if (problem?.kind === 'malformed') return value; // not JSON after all: the text as sent
  if (problem !== undefined) throw jsonRefusal(`The JSON document in ${nameForMessage(name)}`, problem);
  try {
    return JSON.stringify(JSON.parse(value));
  } catch {
    return value;
  }
}
