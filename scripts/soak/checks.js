// The soak's verdicts (scripts/soak/run.js), each from evidence the others cannot fake: what
// reached moto (the tap), the durable audit stream, the agents' answers and the reviewer bot's
// own decisions. Returns { ok, lines, ... } for the report.

/** How long before a SIGKILL an answered request's audit records may be lost: the audit log's batch in flight (50 ms flush), with margin. */
const KILL_WINDOW_MS = 1_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};

export function checkSoak({ seconds, responses, stream, upstream, decided, rss, killedReplicas, verify }) {
  const failures = [];
  const fail = (what) => failures.push(what);
  const byRequest = new Map();
  for (const record of stream) {
    if (typeof record.requestId !== 'string') continue;
    const list = byRequest.get(record.requestId) ?? [];
    list.push(record);
    byRequest.set(record.requestId, list);
  }

  // 1. Nothing reached AWS that was not allowed or approved.
  const closedUpstream = upstream.filter((r) => r.method === 'GET' && /\/closed\//.test(`/${r.host?.split('.')[0]}${r.url}`) && !r.url.startsWith('/moto-api'));
  if (closedUpstream.length > 0) fail(`${closedUpstream.length} requests for the denied bucket reached moto`);
  const heldUpstream = upstream.filter((r) => r.method === 'GET' && /intent-\d+/.test(r.url));
  for (const r of heldUpstream) {
    const key = /intent-\d+/.exec(r.url)[0];
    if (decided.get(key) !== 'approve') fail(`moto served ${key}, which the reviewer did not approve (${decided.get(key) ?? 'undecided'})`);
  }
  const forwarded = stream.filter((r) => r.event === 'request.forwarded');
  for (const r of forwarded) {
    if (r.decision !== 'allow' && r.decision !== 'approve') fail(`request ${r.requestId} was forwarded with decision ${r.decision}`);
  }
  for (const r of responses) {
    if (r.bucket === 'closed' && r.status === 200) fail(`agent ${r.agent} read the denied bucket (request ${r.requestId})`);
    if (r.bucket === 'held' && r.status === 200 && decided.get(r.object) !== 'approve') fail(`agent ${r.agent} read ${r.object} without an approval`);
  }

  // 2. No approval spent twice: each intent is one approval and one read.
  const perApproval = new Map();
  for (const r of forwarded) if (r.approvalId !== undefined) perApproval.set(r.approvalId, (perApproval.get(r.approvalId) ?? 0) + 1);
  for (const [id, count] of perApproval) if (count > 1) fail(`approval ${id} let ${count} requests through`);
  const consumed = new Map();
  for (const r of stream.filter((x) => x.event === 'approval.consumed')) consumed.set(r.approvalId, (consumed.get(r.approvalId) ?? 0) + 1);
  for (const [id, count] of consumed) if (count > 1) fail(`approval ${id} consumed ${count} times`);
  const heldReads = new Map();
  for (const r of responses) if (r.bucket === 'held' && r.status === 200) heldReads.set(r.object, (heldReads.get(r.object) ?? 0) + 1);
  for (const [key, count] of heldReads) if (count > 1) fail(`${key} was read ${count} times on one approval`);

  // 3. Every decision in the audit log exactly once; an answer's records are missing only when its replica was SIGKILLed within the batch in flight.
  let lostInKill = 0;
  let answered = 0;
  for (const r of responses) {
    if (r.requestId === undefined) continue;
    answered += 1;
    const records = byRequest.get(r.requestId) ?? [];
    const finals = records.filter((x) => x.event === 'request.forwarded' || x.event === 'request.failed');
    const decisions = records.filter((x) => x.event === 'request.decided');
    if (finals.length > 1) fail(`request ${r.requestId} has ${finals.length} final records`);
    if (decisions.length > 1) fail(`request ${r.requestId} was decided ${decisions.length} times in the log`);
    if (finals.length === 0) {
      if (killedReplicas.some((k) => r.at <= k.killedAt + 50 && r.at >= k.killedAt - KILL_WINDOW_MS)) lostInKill += 1;
      else fail(`request ${r.requestId} (${r.bucket}, ${r.status} ${r.code ?? ''}) is not in the audit log`);
    }
  }
  const decidedIds = stream.filter((x) => x.event === 'request.decided').map((x) => x.requestId);
  if (new Set(decidedIds).size !== decidedIds.length) fail(`${decidedIds.length - new Set(decidedIds).size} request.decided records are duplicates`);
  if (!verify.startsWith('ok:')) fail(`audit verify: ${verify}`);

  // 4. RSS flat: replica B (never restarted), the last third against the second (the first is
  // warm-up: V8 grows its heap for a minute or two before it settles). The heap in use is a saw
  // (it climbs until a major collection drops it), so what must stay level is its floor, the
  // least in use after a collection, and RSS's peak; a leak raises both, third after third.
  const third = (seconds * 1000) / 3;
  const inMiddle = rss.filter((s) => s.at >= third && s.at < 2 * third);
  const inLast = rss.filter((s) => s.at >= 2 * third);
  const peak = (xs) => Math.max(...xs.map((s) => s.bytes));
  const floor = (xs) => Math.min(...xs.map((s) => s.heapUsed).filter((b) => Number.isFinite(b)));
  const middle = median(inMiddle.map((s) => s.bytes));
  const last = median(inLast.map((s) => s.bytes));
  const growth = peak(inLast) / peak(inMiddle) - 1;
  const heapMiddle = floor(inMiddle);
  const heapLast = floor(inLast);
  if (!(growth < 0.2)) fail(`replica b's peak RSS grew ${(growth * 100).toFixed(1)}% from the second third to the last (${(peak(inMiddle) / 2 ** 20).toFixed(0)} -> ${(peak(inLast) / 2 ** 20).toFixed(0)} MiB)`);
  if (!(heapLast <= heapMiddle * 1.2 + 16 * 2 ** 20)) fail(`replica b's heap floor rose from ${(heapMiddle / 2 ** 20).toFixed(0)} to ${(heapLast / 2 ** 20).toFixed(0)} MiB (a leak)`);

  // The traffic itself did what each rule says (an agent's own view).
  const wrong = responses.filter((r) => !r.ok && r.bucket !== 'held');
  const count = (bucket) => responses.filter((r) => r.bucket === bucket).length;
  const summary = {
    answers: responses.length,
    open: count('open'),
    closed: count('closed'),
    heldAttempts: count('held'),
    intentsRead: heldReads.size,
    intentsDenied: [...decided.values()].filter((v) => v === 'deny').length,
    approvalsForwarded: perApproval.size,
    unexpectedAnswers: wrong.length,
    unexpectedCodes: [...new Set(wrong.map((r) => `${r.bucket}:${r.status}:${r.code ?? r.error ?? ''}`))].slice(0, 10),
    auditRecords: stream.length,
    answeredWithRequestId: answered,
    lostInKillWindow: lostInKill,
    rssMiB: { middle: middle / 2 ** 20, last: last / 2 ** 20, peakMiddle: peak(inMiddle) / 2 ** 20, peakLast: peak(inLast) / 2 ** 20, peakGrowthPercent: growth * 100 },
    heapFloorMiB: { middle: heapMiddle / 2 ** 20, last: heapLast / 2 ** 20 },
    /** Every 10 s: seconds, RSS MiB, V8 heap used MiB. */
    series: rss.filter((_, i) => i % 5 === 0).map((s) => [Math.round(s.at / 1000), Math.round(s.bytes / 2 ** 20), Math.round(s.heapUsed / 2 ** 20)]),
    upstreamRequests: upstream.length,
    verify,
  };
  const lines = [
    `soak: ${seconds} s, ${summary.answers} answers (open ${summary.open}, denied ${summary.closed}, held attempts ${summary.heldAttempts}); ${summary.intentsRead} approved reads, ${summary.intentsDenied} denied intents`,
    `  unexpected answers to allow/deny traffic: ${summary.unexpectedAnswers} ${summary.unexpectedCodes.join(', ')}`,
    `  audit: ${summary.auditRecords} records; ${verify}; answers lost in the SIGKILL window: ${lostInKill}`,
    `  replica b, second third -> last: RSS median ${summary.rssMiB.middle.toFixed(0)} -> ${summary.rssMiB.last.toFixed(0)} MiB, peak ${summary.rssMiB.peakMiddle.toFixed(0)} -> ${summary.rssMiB.peakLast.toFixed(0)} MiB (${summary.rssMiB.peakGrowthPercent.toFixed(1)}%); V8 heap floor ${summary.heapFloorMiB.middle.toFixed(0)} -> ${summary.heapFloorMiB.last.toFixed(0)} MiB`,
    failures.length === 0 ? 'PASS: nothing forwarded unapproved, no approval spent twice, RSS flat, every decision logged once' : `FAIL (${failures.length}):\n${failures.slice(0, 30).map((f) => `  - ${f}`).join('\n')}`,
  ];
  return { ok: failures.length === 0, failures, summary, lines };
}
