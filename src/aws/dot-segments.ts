/**
 * SigV4 removes `.` and `..` segments from every path but S3's before signing (AWS SigV4 spec,
 * "Create a canonical request"), and AWS front ends may route on the path so resolved, while
 * countersign classifies the path as sent: `/2015-03-31/functions/ok/../admin/invocations`
 * would be decided on one function and signed for another. SDKs never send such segments (a
 * label cannot be `.` or `..`), so a request with one, raw or percent-encoded, is refused. S3
 * is the exception on both sides: it keeps keys literally (`a/../b` is a key), and so does SigV4.
 */
export function dotSegment(rawPath: string): string | undefined {
  for (const segment of rawPath.split('/')) {
    if (segment.length === 0 || segment.length > 6) continue;
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') return segment;
  }
  return undefined;
}
