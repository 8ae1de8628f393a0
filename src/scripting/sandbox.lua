-- Ember's Lua sandbox for EVAL, run once when the interpreter starts.
-- It receives the Rust helpers as arguments and returns the table of real
-- globals (where KEYS/ARGV are set before each run) and the runner.
-- Scripts see Redis 7.0's environment: the globals and every library table
-- are read-only, reading a missing global is an error, and `pcall` turns
-- error tables into their message.
local helpers = ...
local script_line = helpers.script_line
local raw_next, raw_rawset, raw_pcall = next, rawset, pcall
local raw_select, raw_type, raw_tostring, raw_error = select, type, tostring, error
local raw_setmetatable, raw_unpack = setmetatable, unpack

-- proxy -> the table it protects
local protected = raw_setmetatable({}, { __mode = 'k' })

local function readonly_error()
  raw_error('Attempt to modify a readonly table', 2)
end

local function protect(t)
  local proxy = {}
  raw_setmetatable(proxy, { __index = t, __newindex = readonly_error, __metatable = false })
  protected[proxy] = t
  return proxy
end

local error_text = helpers.error_text

-- The API is made of C (Rust) functions, so that a script's frame stays
-- on the stack even in `return redis.call(...)` (a tail call) and errors
-- name the script's line.
local redis = helpers.api
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = helpers.version, helpers.version_num

function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end


-- The globals a script sees.
local real = {}
for _, name in ipairs({
  'assert', 'collectgarbage', 'error', 'gcinfo', 'getmetatable', 'ipairs',
  'load', 'loadstring', 'rawequal', 'rawget', 'select', 'setmetatable',
  'tonumber', 'tostring', 'type', 'unpack', 'xpcall', '_VERSION',
}) do
  real[name] = _G[name]
end

local math_proxy = {}
for k, v in raw_next, math do math_proxy[k] = v end
math_proxy.random = helpers.random
math_proxy.randomseed = helpers.randomseed

real.coroutine = protect(coroutine)
real.string = protect(string)
real.table = protect(table)
real.math = protect(math_proxy)
real.redis = protect(redis)
for name, lib in raw_next, helpers.libs do
  real[name] = protect(lib)
end

-- next/pairs see through read-only proxies; rawset cannot write them.
real.next = function(t, k) return raw_next(protected[t] or t, k) end
real.pairs = function(t) return real.next, t, nil end
real.rawset = function(t, k, v)
  if protected[t] then raw_error('Attempt to modify a readonly table', 0) end
  return raw_rawset(t, k, v)
end

-- pcall gives the message of an error table (what redis.call raises).
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if raw_type(e) == 'userdata' then e = error_text(e) or e end
  if raw_type(e) == 'table' then
    local m = e.err
    if raw_type(m) == 'string' or raw_type(m) == 'number' then e = m end
  end
  return false, e
end
real.pcall = function(f, ...) return pcall_result(raw_pcall(f, ...)) end

-- The error handler: every error becomes a table {err=, source=, line=},
-- the line being the script's (not a library function's) where it happened.
local function handler(err)
  if raw_type(err) == 'userdata' then
    local m, plain, lib = error_text(err)
    if m then
      if plain then return { err = m } end
      -- A library's error is a string, as a C library's would be.
      if lib then err = m else err = { err = m } end
    end
  end
  if raw_type(err) ~= 'table' then
    err = { err = 'ERR ' .. raw_tostring(err) }
  end
  local source, line = script_line()
  if source then
    err.source = source
    err.line = line
  end
  return err
end
real.__redis__err__handler = handler

local env = {}
raw_setmetatable(env, {
  __index = function(_, k)
    local v = real[k]
    if v == nil then
      raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})
protected[env] = real
real._G = env

local xpcall = xpcall
-- Code loaded later (loadstring in a script too) sees the protected globals.
setfenv(0, env)
local function run(f)
  return xpcall(f, handler)
end

return real, env, run
