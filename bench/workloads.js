// The two requests bench/run.js measures, shared by the load generator (bench/load.js), the
// stand-in upstream (bench/upstream.js) and the orchestrator, so all three agree on them.
//
// S3 GetObject: `GET /bench/obj-1k`, a 1 KiB answer (REST-XML protocol: the request has no body;
// the path and headers decide). DynamoDB GetItem: `POST /` with a JSON 1.0 body that names the
// table (JSON protocol: the body must be read and parsed to classify the request and find its
// resource ARN), a small item in answer.

/** The object S3 GetObject answers (1 KiB). */
export const S3_OBJECT = Buffer.alloc(1024, 'countersign-bench/');

export const DYNAMODB = {
  target: 'DynamoDB_20120810.GetItem',
  contentType: 'application/x-amz-json-1.0',
  table: 'bench',
  /** The GetItem body an SDK sends. */
  requestBody: JSON.stringify({ TableName: 'bench', Key: { id: { S: 'k1' } }, ConsistentRead: true }),
  /** The item it gets back. */
  item: Buffer.from(JSON.stringify({ Item: { id: { S: 'k1' }, owner: { S: 'team-a' }, count: { N: '42' }, payload: { S: 'countersign-bench/'.repeat(12) } } })),
};
