// Types for generate.js (imported by test/security/route-template-members.test.ts).

/**
 * routes.json's text. `options.overrides` replaces src/aws/routes/overrides.json. Throws a
 * TemplateMemberError (template-members.d.ts) when an IAM entry reads a member its operation's
 * input does not have.
 */
export declare function generate(options?: { readonly overrides?: unknown; readonly botocore?: string }): string;

/**
 * botocore's data directory and version: `dir` (the botocore package or its data directory)
 * when given, else the botocore the project's Python imports. Throws "botocore is missing: ..."
 * when there is none.
 */
export declare function locateBotocore(dir?: string): { readonly data: string; readonly version: string };
