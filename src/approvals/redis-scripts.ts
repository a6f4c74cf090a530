/**
 * Server-side transitions for the Redis store. Each script runs atomically in Redis, so two
 * reviewers at once, approve against expiry, and two retries consuming one approval resolve
 * to exactly one outcome whichever replicas they reach. The rules are the ones in
 * transitions.ts; the store contract tests hold both implementations to them.
 *
 * A record is a hash: scalar fields, plus `context`, `requirements` (never rewritten here) and
 * `reviews` as JSON text. cjson would turn an empty array into `{}` on re-encoding, which is
 * why the scripts only ever re-encode `reviews` after appending to it.
 */

/** Applies expiry as of `now` (publishing it) and returns the status, or false when missing. */
const REFRESH = `
local function refresh(key, id, now, channel)
  local status = redis.call('HGET', key, 'status')
  if not status then return false end
  local expired = false
  if status == 'pending' and now >= tonumber(redis.call('HGET', key, 'expiresAt')) then expired = true end
  if status == 'approved' then
    local untilAt = tonumber(redis.call('HGET', key, 'approvedUntil'))
    if untilAt and now >= untilAt then
      -- A read or a window that was used has served its intent: consumed, not expired (transitions.ts).
      local untilExpiry = redis.call('HGET', key, 'intent') == 'read' or redis.call('HEXISTS', key, 'windowMinutes') == 1
      if untilExpiry and redis.call('HEXISTS', key, 'consumedAt') == 1 then
        redis.call('HSET', key, 'status', 'consumed')
        return 'consumed'
      end
      expired = true
    end
  end
  if expired then
    redis.call('HSET', key, 'status', 'expired')
    redis.call('PUBLISH', channel, cjson.encode({id = id, status = 'expired'}))
    return 'expired'
  end
  return status
end
`;

/**
 * KEYS: fingerprint key, new record key, index, and (when the draft has one) its window key.
 * ARGV: now, new id, channel, record key prefix, retention ms, field/value pairs...
 */
export const FIND_OR_CREATE = `${REFRESH}
local now = tonumber(ARGV[1])
local existing = redis.call('GET', KEYS[1])
if existing then
  local key = ARGV[4] .. existing
  local status = refresh(key, existing, now, ARGV[3])
  if status then
    local live = status == 'pending'
      or (status == 'approved' and (redis.call('HGET', key, 'intent') == 'read' or redis.call('HEXISTS', key, 'windowMinutes') == 1 or tonumber(redis.call('HGET', key, 'usesLeft')) > 0))
      or (status == 'denied' and now < tonumber(redis.call('HGET', key, 'expiresAt')))
    if live then return {existing, 0} end
  end
end
-- An approval for a while serves the same binding (the window key) until it closes.
if KEYS[4] then
  local windowed = redis.call('GET', KEYS[4])
  if windowed then
    local key = ARGV[4] .. windowed
    if refresh(key, windowed, now, ARGV[3]) == 'approved' and redis.call('HEXISTS', key, 'windowMinutes') == 1 then return {windowed, 0} end
  end
end
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
redis.call('ZADD', KEYS[3], now, ARGV[2])
return {ARGV[2], 1}
`;

/** KEYS: record key, and its window key when a window is asked for. ARGV: now, id, reviewer, decision, comment, channel, window minutes ('' for once). Returns {outcome}. */
export const REVIEW = `${REFRESH}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local reviewer = ARGV[3]
local status = refresh(key, ARGV[2], now, ARGV[6])
if not status then return 'not_found' end
if status == 'expired' then return 'expired' end
if status ~= 'pending' then return 'not_pending' end
local context = cjson.decode(redis.call('HGET', key, 'context'))
for _, owner in ipairs(context.owners) do
  if owner == reviewer then return 'owner' end
end
local requirements = cjson.decode(redis.call('HGET', key, 'requirements'))
local eligible = false
for _, req in ipairs(requirements) do
  for _, id in ipairs(req.eligible) do
    if id == reviewer then eligible = true end
  end
end
if not eligible then return 'not_eligible' end
local reviews = cjson.decode(redis.call('HGET', key, 'reviews'))
for _, review in ipairs(reviews) do
  if review.reviewer == reviewer then return 'already_reviewed' end
end
-- A window only on an approval, only where the rules allow one, never past their maxWindow.
local windowMinutes = tonumber(ARGV[7])
if ARGV[7] ~= '' then
  local maxWindow = tonumber(redis.call('HGET', key, 'maxWindowMs'))
  if ARGV[4] ~= 'approve' or not maxWindow or not windowMinutes or windowMinutes < 1 or windowMinutes ~= math.floor(windowMinutes) then return 'window_not_allowed' end
  if windowMinutes * 60000 > maxWindow then return 'window_too_long' end
end
table.insert(reviews, {reviewer = reviewer, decision = ARGV[4], comment = ARGV[5], at = now, windowMinutes = windowMinutes})
redis.call('HSET', key, 'reviews', cjson.encode(reviews))
if ARGV[4] == 'deny' then
  redis.call('HSET', key, 'status', 'denied', 'decidedAt', now)
  redis.call('PUBLISH', ARGV[6], cjson.encode({id = ARGV[2], status = 'denied'}))
  return 'ok'
end
for _, req in ipairs(requirements) do
  local approvals = 0
  for _, review in ipairs(reviews) do
    if review.decision == 'approve' then
      for _, id in ipairs(req.eligible) do
        if id == review.reviewer then approvals = approvals + 1 end
      end
    end
  end
  if approvals < req.quorum then return 'ok' end
end
-- The window a quorum approved: the shortest chosen, none when any approver chose once.
local window = nil
local once = false
for _, review in ipairs(reviews) do
  if review.decision == 'approve' then
    local minutes = tonumber(review.windowMinutes)
    if minutes == nil then once = true elseif window == nil or minutes < window then window = minutes end
  end
end
if window ~= nil and not once then
  redis.call('HSET', key, 'status', 'approved', 'decidedAt', now, 'approvedUntil', now + window * 60000, 'windowMinutes', window)
  if KEYS[2] then redis.call('SET', KEYS[2], ARGV[2], 'PX', window * 60000) end
  redis.call('PUBLISH', ARGV[6], cjson.encode({id = ARGV[2], status = 'approved'}))
  return 'ok'
end
local validity = tonumber(redis.call('HGET', key, 'expiresAt')) - tonumber(redis.call('HGET', key, 'createdAt'))
redis.call('HSET', key, 'status', 'approved', 'decidedAt', now, 'approvedUntil', now + validity)
redis.call('PUBLISH', ARGV[6], cjson.encode({id = ARGV[2], status = 'approved'}))
return 'ok'
`;

/** KEYS: record key. ARGV: now, id, channel, request id ('' if none). Returns 'ok' or why not. */
export const CONSUME = `${REFRESH}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local status = refresh(key, ARGV[2], now, ARGV[3])
if not status then return 'not_found' end
if status == 'expired' then return 'expired' end
if status == 'consumed' then return 'used_up' end
if status ~= 'approved' then return 'not_approved' end
redis.call('HINCRBY', key, 'timesUsed', 1)
if ARGV[4] ~= '' then redis.call('HSET', key, 'lastUse', cjson.encode({requestId = ARGV[4], at = now})) end
-- A window serves its binding until it closes: no use is counted down.
if redis.call('HEXISTS', key, 'windowMinutes') == 1 then
  if redis.call('HEXISTS', key, 'consumedAt') == 0 then redis.call('HSET', key, 'consumedAt', now) end
  return 'ok'
end
if redis.call('HGET', key, 'intent') == 'read' then
  -- One intent, one use: the first request takes it, the rest of the same read ride on it.
  if redis.call('HEXISTS', key, 'consumedAt') == 0 then
    redis.call('HSET', key, 'usesLeft', math.max(0, tonumber(redis.call('HGET', key, 'usesLeft')) - 1), 'consumedAt', now)
  end
  return 'ok'
end
local uses = tonumber(redis.call('HGET', key, 'usesLeft')) - 1
redis.call('HSET', key, 'usesLeft', uses)
if uses <= 0 then redis.call('HSET', key, 'status', 'consumed', 'consumedAt', now) end
return 'ok'
`;

/** KEYS: record key. ARGV: request id, upstream status ('' if none). Kept only while that request is the record's lastUse. */
export const RECORD_OUTCOME = `
local raw = redis.call('HGET', KEYS[1], 'lastUse')
if not raw then return 0 end
local use = cjson.decode(raw)
if use.requestId ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then use.upstreamStatus = tonumber(ARGV[2]) end
redis.call('HSET', KEYS[1], 'lastUse', cjson.encode(use))
return 1
`;
