"""The deploy lock's Lua scripts (bot/shell/lock/lease.py says why they are what they are).

Every script takes ``KEYS = [lock, fence]`` (one hash tag: they work on Redis Cluster). The
lock holds the ``LockHolder`` JSON, with a lease (``PX``) while a deploy runs and without one
while held after an interrupted deploy. The fence is the pair's lease record,
``<highest token>:<when its lease ends, Redis ms>:<1 released | 0 not>``: it outlives the lock,
so a lock that vanishes before its lease ended (deleted by hand, evicted, lost with part of the
data) is noticed, and no lock is granted until that lease would have ended, plus the time to
stop its command. A plain number (the counter of older versions) reads as released.

Callers give Redis time nothing: ``TIME`` is read inside each script, so every lease and
token is on the one clock of the server that keeps them.
"""

from bot.shell.lock.dataloss import RUN_ID_LUA

__all__ = ["ACQUIRE", "HOLD_INTERRUPTED", "RELEASE", "RELEASE_INTERRUPTED", "RENEW"]

# The fence record as (fence, until_ms, released), and now_ms; write_fence(token, until, rel).
_FENCE = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local raw = redis.call('GET', KEYS[2]) or '0'
local f, u, r = string.match(raw, '^(%d+):?(%d*):?(%d?)$')
local fence, until_ms, released = tonumber(f) or 0, tonumber(u) or 0, r ~= '0'
local function write_fence(token, lease_end, is_released)
  local rel = is_released and '1' or '0'
  redis.call('SET', KEYS[2], string.format('%d:%d:', token, lease_end) .. rel)
end
"""

# ARGV: holder (token 0), ttl_ms, highest token seen by the caller, not-before ms, run id of
# the server that made the intact mark ('*': any), stop margin ms. {token, holder} granted;
# {0, holder} held by another; {-1, ms} no grant before then; {-2, ''} another server
# answers: read the intact mark again.
ACQUIRE = f"""{RUN_ID_LUA}
local cur = redis.call('GET', KEYS[1])
if cur then return {{0, cur}} end
if ARGV[5] ~= '*' and ARGV[5] ~= run then return {{-2, ''}} end
{_FENCE}
if now_ms < tonumber(ARGV[4]) then return {{-1, ARGV[4]}} end
local vanished_until = until_ms + tonumber(ARGV[6])
if not released and now_ms < vanished_until then
  return {{-1, string.format('%d', vanished_until)}}
end
local token = math.max(fence + 1, now_ms, tonumber(ARGV[3]) + 1)
write_fence(token, now_ms + tonumber(ARGV[2]), false)
local token_s = string.format('%d', token)
local value = string.gsub(ARGV[1], '"fencing_token":0', '"fencing_token":' .. token_s, 1)
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {{token_s, value}}
"""

# ARGV[1]: the caller's token. Its lease is "mine" only if the lock is its own and not an
# interrupted hold; the caller's token is reported back to the fence in any case.
_MINE = f"""{_FENCE}
local token = tonumber(ARGV[1])
local cur = redis.call('GET', KEYS[1])
local held = cur and cjson.decode(cur)
local mine = held and not held['interrupted'] and held['fencing_token'] == token
local function report() if fence < token then write_fence(token, until_ms, released) end end
"""

# ARGV: token, ttl_ms. Never re-creates a lock it lost.
RENEW = f"""{_MINE}
if not mine then report() return 0 end
write_fence(math.max(fence, token), now_ms + tonumber(ARGV[2]), false)
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

# ARGV: token.
RELEASE = f"""{_MINE}
if not mine then report() return 0 end
write_fence(math.max(fence, token), until_ms, true)
return redis.call('DEL', KEYS[1])
"""

# ARGV: token, holder. Kept (or taken back if it expired) unless another lease holds it or
# was granted since; without expiry. No command runs under it (its own died with its worker).
HOLD_INTERRUPTED = f"""{_MINE}
if held and held['fencing_token'] ~= token then report() return 0 end
if not held and fence > token then return 0 end
write_fence(math.max(fence, token), until_ms, true)
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

RELEASE_INTERRUPTED = f"""{_FENCE}
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if not cjson.decode(cur)['interrupted'] then return 0 end
write_fence(fence, until_ms, true)
return redis.call('DEL', KEYS[1])
"""
