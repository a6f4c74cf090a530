// The rule that every member an IAM entry reads is a member of its operation's input, checked by
// scripts/routes/generate.js on the override table (before resolution) and on the table it
// writes (after). A reference to a member the input does not have reads nothing at request time:
// before this check the generator dropped such a template and bound the action's resource types
// by the same-name heuristics instead (Secrets Manager CreateSecret's "${SecretId}", which
// CreateSecret's input does not have, became secret:*), or dropped a condition or the whole
// entry. Now the generation fails and names service, operation and member; the entry is fixed
// in "curated" (docs/classification.md, "Template members").
//
// Member paths are member names, as in the model's input shape ("LaunchTemplate.LaunchTemplateId",
// "SecurityGroupIds[]", "Tags.*", "Objects[?VersionId].Key"), never wire names (locationName,
// EC2 queryName): the generator maps member paths to wire locations (wireOf).

/** Not members: filled from the request's credential scope and the caller's account. */
export const CONTEXT_VARIABLES = new Set(['Partition', 'Region', 'Account']);
const REFERENCE = /\$\{([^}~|]+)(?:~\/(.*?)\/|\|([a-z][a-z0-9]*))?\}/g;
export const FILTERS = new Set(['urlencode', 'copysource', 'lambdaname', 'queueurlname', 'queueurlaccount', 'partiqltable', 'kmskey', 'secretid', 'ssmparameter', 'ssmpath', 'loggroup', 'ec2id', 'account', 'any']);

/** Member paths a countersign template reads (not Partition/Region/Account). Throws on a bad filter or regex. */
export function referencesOf(template) {
  const refs = [];
  for (const m of template.matchAll(REFERENCE)) {
    if (m[3] !== undefined && !FILTERS.has(m[3])) throw new Error(`unknown filter |${m[3]} in ${template}`);
    if (m[2] !== undefined) new RegExp(m[2]); // throws on a bad regex
    if (!CONTEXT_VARIABLES.has(m[1])) refs.push(m[1]);
  }
  return refs;
}

const alternatives = (value) => (Array.isArray(value) ? value : [value]);

/** Why `path` is not a member path, when a top-level member explains it (case, wire name). */
function hintFor(path, members) {
  const first = path.split('.')[0]?.replace(/(\[\]|\{\}|\[[?!][^\]]*\])$/, '') ?? '';
  if (Object.hasOwn(members, first)) return `${first} is a member, but not with this path (nesting, [] for a list, .* for a map, or a location the proxy does not read)`;
  const byCase = Object.keys(members).find((n) => n.toLowerCase() === first.toLowerCase());
  if (byCase !== undefined) return `the member is ${byCase}`;
  const byWire = Object.entries(members).find(([, m]) => [m?.locationName, m?.queryName].some((w) => typeof w === 'string' && w.toLowerCase() === first.toLowerCase()));
  if (byWire !== undefined) return `${first} is the wire name of member ${byWire[0]}; templates name members`;
  const names = Object.keys(members).sort();
  return names.length === 0 ? 'the input has no members' : `its members: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}`;
}

/**
 * Every member reference of one override entry (curated or seeded) that is not a member path of
 * the operation's input: its "arn" templates, its "arns" templates, its "vars" bindings and its
 * "when" condition paths. A template the evaluator cannot parse (unknown filter, bad regex) is a
 * problem too. Returns one message per problem, naming service, operation, action and member.
 *
 * @param {{ service: string, operation: string, section: string, entry: any, memberExists: (path: string) => boolean, members?: Record<string, any> }} args
 * @returns {string[]}
 */
export function overrideEntryProblems({ service, operation, section, entry, memberExists, members = {} }) {
  const problems = [];
  const where = `${service}.${operation} (${section}, ${entry.action})`;
  const missing = (path, what) => problems.push(`${where}: ${what} reads \${${path}}, which is not a member of ${operation}'s input (${hintFor(path, members)})`);
  const template = (text, what) => {
    if (text === '*') return;
    let refs;
    try {
      refs = referencesOf(text.replace(/^\?/, ''));
    } catch (error) {
      problems.push(`${where}: ${what} cannot be read: ${error.message}`);
      return;
    }
    for (const ref of refs) if (!memberExists(ref)) missing(ref, `${what} ${JSON.stringify(text)}`);
  };
  for (const text of entry.arn ?? []) template(text, 'arn template');
  for (const [type, value] of Object.entries(entry.arns ?? {})) for (const text of alternatives(value)) template(text, `arns.${type} template`);
  for (const [variable, value] of Object.entries(entry.vars ?? {})) for (const text of alternatives(value)) template(text, `vars.${variable} binding`);
  for (const c of entry.when ?? []) {
    if (typeof c.path !== 'string' || c.path === '') problems.push(`${where}: a condition has no path`);
    else if (!memberExists(c.path)) missing(c.path, `condition ${c.op}`);
  }
  return problems;
}

/**
 * The same rule on what the generator wrote for one operation: every reference of every "r"
 * template and every "when" path has a wire location in the operation's "in" map (which only
 * holds member paths of the input). Catches a template made by a rewrite or a heuristic that
 * reads something the request cannot give.
 *
 * @param {string} key "service.Operation"
 * @param {Array<{ a: string, r?: string[], when?: Array<{ path: string }>, fb?: boolean }>} entries
 * @param {Record<string, string>} inMap
 * @returns {string[]}
 */
export function tableEntryProblems(key, entries, inMap) {
  const problems = [];
  for (const entry of entries) {
    for (const text of entry.r ?? []) {
      if (text === '*') continue;
      let refs;
      try {
        refs = referencesOf(text.replace(/^\?/, ''));
      } catch (error) {
        problems.push(`${key} (generated, ${entry.a}): template ${JSON.stringify(text)} cannot be read: ${error.message}`);
        continue;
      }
      for (const ref of refs) if (!Object.hasOwn(inMap, ref)) problems.push(`${key} (generated, ${entry.a}): template ${JSON.stringify(text)} reads \${${ref}}, which is not a member of the operation's input`);
    }
    for (const c of entry.when ?? []) if (!Object.hasOwn(inMap, c.path)) problems.push(`${key} (generated, ${entry.a}): condition reads ${c.path}, which is not a member of the operation's input`);
  }
  return problems;
}

/** Marks the generator's failure for references to non-members (scripts print it without a stack). */
export const TEMPLATE_MEMBER_ERROR = 'ROUTES_TEMPLATE_MEMBER';

/** The generator's failure for a list of problems (one per line); `problems` is kept on the error. */
export function templateMemberError(problems) {
  const error = new Error(
    `routes: ${problems.length} IAM template reference${problems.length === 1 ? '' : 's'} to members the operation's input does not have ` +
      `(each would read nothing and leave the resource as "*" or the entry out). Fix each in "curated" of src/aws/routes/overrides.json ` +
      `(docs/classification.md, "Template members"):\n  ${problems.join('\n  ')}`,
  );
  error.code = TEMPLATE_MEMBER_ERROR;
  error.problems = problems;
  return error;
}
