/**
 * The Redis registry's changes, each one Lua script so it is atomic on the server and bumps the
 * version and publishes it in the same step (a replica that sees the version sees the change).
 * Keys: KEYS[1] the keys hash (access key id → JSON record with its agent), KEYS[2] the revoked
 * agents hash (agent → ISO time), KEYS[3] the version counter. ARGV[1] is the change channel.
 * All three share the configured prefix, so a hash tag in it (`{countersign}:`) keeps them in
 * one Redis Cluster slot, as a script's keys must be.
 */

/** ARGV[2] access key id, ARGV[3] the record's JSON. Returns the new version, or false if the id exists. */
export const ISSUE = `
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then return false end
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[1], v)
return v
`;

/** ARGV[2] access key id, ARGV[3] ISO time. Returns the key id if it was active, else false. */
export const REVOKE_KEY = `
local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then return false end
local key = cjson.decode(raw)
if key.revokedAt then return false end
key.revokedAt = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[2], cjson.encode(key))
redis.call('PUBLISH', ARGV[1], redis.call('INCR', KEYS[3]))
return ARGV[2]
`;

/** ARGV[2] agent, ARGV[3] ISO time. Marks the agent and every active key of it; returns those key ids. */
export const REVOKE_AGENT = `
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local revoked = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local key = cjson.decode(all[i + 1])
  if key.agent == ARGV[2] and not key.revokedAt then
    key.revokedAt = ARGV[3]
    redis.call('HSET', KEYS[1], all[i], cjson.encode(key))
    revoked[#revoked + 1] = all[i]
  end
end
redis.call('PUBLISH', ARGV[1], redis.call('INCR', KEYS[3]))
return revoked
`;
