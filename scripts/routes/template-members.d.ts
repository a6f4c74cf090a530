// Types for template-members.js (imported by test/security/route-template-members.test.ts).

export declare const CONTEXT_VARIABLES: ReadonlySet<string>;
export declare const FILTERS: ReadonlySet<string>;
export declare const TEMPLATE_MEMBER_ERROR: 'ROUTES_TEMPLATE_MEMBER';

/** An override entry as written in src/aws/routes/overrides.json. */
export interface OverrideEntry {
  readonly action: string;
  readonly arn?: readonly string[];
  readonly arns?: Readonly<Record<string, string | readonly string[]>>;
  readonly vars?: Readonly<Record<string, string | readonly string[]>>;
  readonly when?: ReadonlyArray<{ readonly path: string; readonly op: string; readonly value?: string }>;
  readonly optional?: boolean;
  readonly any?: boolean;
}

export declare function referencesOf(template: string): string[];

export declare function overrideEntryProblems(args: {
  readonly service: string;
  readonly operation: string;
  readonly section: string;
  readonly entry: OverrideEntry;
  readonly memberExists: (path: string) => boolean;
  readonly members?: Readonly<Record<string, { readonly locationName?: string; readonly queryName?: string } | undefined>>;
}): string[];

export declare function tableEntryProblems(
  key: string,
  entries: ReadonlyArray<{ readonly a: string; readonly r?: readonly string[]; readonly when?: ReadonlyArray<{ readonly path: string }> }>,
  inMap: Readonly<Record<string, string>>,
): string[];

export interface TemplateMemberError extends Error {
  readonly code: typeof TEMPLATE_MEMBER_ERROR;
  readonly problems: readonly string[];
}

export declare function templateMemberError(problems: readonly string[]): TemplateMemberError;
