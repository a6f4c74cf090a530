// Types for generate.js (imported by test/unit/endpoint-hosts.test.ts).

export interface Partition {
  readonly id: string;
  readonly regionRegex: string;
  readonly dnsSuffix: string;
  readonly dualStackDnsSuffix: string;
}

export interface EndpointHostsTable {
  readonly format: number;
  readonly source: Readonly<Record<string, string>>;
  readonly partitions: readonly Partition[];
  readonly defaultHosts: readonly string[];
  readonly s3: readonly string[];
  readonly hosts: Readonly<Record<string, readonly string[]>>;
}

/** The table from the inputs, and what it left out (reason → count and one example). */
export declare function generate(): { table: EndpointHostsTable; skipped: Map<string, { count: number; example: string }> };

/** endpoint-hosts.json's text for a table. */
export declare function format(table: EndpointHostsTable): string;

/** The generator's reading of a host name into a key (src/aws/endpoint-data.ts reads hosts the same way). */
export declare function keyReader(partitions: readonly Partition[]): (host: string) => string | undefined;
