// Types for generate.js (imported by test/security/route-template-members.test.ts).

/**
 * routes.json's text. `options.overrides` replaces src/aws/routes/overrides.json. Throws a
 * TemplateMemberError (template-members.d.ts) when an IAM entry reads a member its operation's
 * input does not have.
 */
export declare function generate(options?: { readonly overrides?: unknown }): string;
