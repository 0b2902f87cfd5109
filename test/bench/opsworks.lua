--[[
opsworks.lua: a Fluent Bit Lua filter doing what the native `opsworks` filter
does to single CloudTrail events, so the two can be compared for cost and for
output. It exists for the benchmark in this directory; the supported filter is
the Go plugin.

Input: one CloudTrail event per record, already a map (tail + json parser).
For each record it
  * keeps events whose eventSource is OpsWorks (drops other events, return -1;
    records that are not CloudTrail events pass through untouched),
  * classifies the variant with the Go filter's rule order, including a
    bounded LRU of serverName -> variant learned from earlier events,
  * redacts non-redacted strings under sensitive names,
  * flattens userIdentity into userIdentity_<path> keys,
  * sets the record time from eventTime and adds opsworks_variant.
Lua cannot change a record's tag: pair it with rewrite_tag on
$opsworks_variant to re-emit under opsworks.<variant>.

Fluent Bit settings this script relies on:
  time_as_table   on  -- exact seconds + nanoseconds, no float rounding
  enable_flb_null on  -- JSON null stays null instead of deleting the key

Not replicated (the Go filter handles them): {"Records":[...]} log files,
EventBridge and CloudWatch Logs envelopes, source_key JSON text, UTF-8 and
size checks, max_depth errors. Lua tables have no key order, so the output's
key order differs, and attribute-name scanning follows Lua's pairs() order
(this only matters for one map naming both CHEF_ and PUPPET_ attributes).

It mirrors filter/ as of commit 8650b0e (defaults: event_sources, separator,
redact_keys, server_memory_size, max_depth). compare.sh shows any drift.
]]

local SOURCES = {
  ["opsworks.amazonaws.com"] = true,
  ["opsworks-cm.amazonaws.com"] = true,
}
local SEP = "_"
local REDACTED = "*** Redacted ***"
-- DefaultRedactKeys of filter/config.go, already normalized (lower case, no _ or -).
local REDACT_FRAGMENTS = { "password", "passwd", "secret", "token", "privatekey",
  "pivotalkey", "starterkit", "apicacert", "sshkey" }
local MEMORY_SIZE = 10000   -- server_memory_size
local MAX_DEPTH = 64        -- max_depth, bounds redaction recursion as in Go

-- Fluent Bit tags decoded tables with a metatable {type = 1 (array) | 2 (map)}
-- (FLB_LUA_L2C_TYPE_*); that is the only way to tell [] from {}.
local L2C_ARRAY, L2C_MAP = 1, 2

local function is_map(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt and mt.type then return mt.type == L2C_MAP end
  return next(v) ~= nil and v[1] == nil  -- a table built outside Fluent Bit
end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  if mt and mt.type then return mt.type == L2C_ARRAY end
  return v[1] ~= nil
end

-- get is Value.Get: a map's field, nil for anything else.
local function get(v, key)
  if is_map(v) then return v[key] end
  return nil
end

------------------------------------------------------------------ classify --

local function engine_variant(v)
  if type(v) ~= "string" then return nil end
  local p = string.lower(string.sub(v, 1, 6))
  if string.sub(p, 1, 4) == "chef" then return "chef_automate" end
  if p == "puppet" then return "puppet_enterprise" end
  return nil
end

local function attribute_variant(v)
  if type(v) ~= "string" then return nil end
  if string.sub(v, 1, 5) == "CHEF_" then return "chef_automate" end
  if string.sub(v, 1, 7) == "PUPPET_" then return "puppet_enterprise" end
  return nil
end

local function model_variant(v)
  if v == "Single" then return "chef_automate" end
  if v == "Monolithic" then return "puppet_enterprise" end
  return nil
end

-- unanimous: the variant every element of list agrees on via key.
local function unanimous(list, key)
  if not is_array(list) then return nil end
  local found
  for i = 1, #list do
    local v = engine_variant(get(list[i], key))
    if v then
      if found and v ~= found then return nil end
      found = v
    end
  end
  return found
end

local ATTRIBUTE_KEYS = { name = true, attributeName = true, exportAttributeName = true }

-- attribute_names looks for CHEF_/PUPPET_ names under name, attributeName or
-- exportAttributeName anywhere in v (depth-limited like the Go filter).
local function attribute_names(v, depth)
  if v == nil or depth > 8 then return nil end
  if is_map(v) then
    for k, val in pairs(v) do
      if ATTRIBUTE_KEYS[k] then
        local r = attribute_variant(val)
        if r then return r end
      end
      if type(val) == "table" then
        local r = attribute_names(val, depth + 1)
        if r then return r end
      end
    end
  elseif is_array(v) then
    for i = 1, #v do
      local r = attribute_names(v[i], depth + 1)
      if r then return r end
    end
  end
  return nil
end

-- Server memory: an LRU of scope..serverName -> variant, a doubly linked list
-- (head = most recently used) plus an index, so that learn and lookup are O(1)
-- like the Go filter's container/list.
local memory = { size = 0, index = {}, head = nil, tail = nil }

local function unlink(node)
  if node.prev then node.prev.next = node.next else memory.head = node.next end
  if node.next then node.next.prev = node.prev else memory.tail = node.prev end
  node.prev, node.next = nil, nil
end

local function push_front(node)
  node.next = memory.head
  if memory.head then memory.head.prev = node end
  memory.head = node
  if not memory.tail then memory.tail = node end
end

local function learn(scope, name, variant)
  if MEMORY_SIZE == 0 or not variant or type(name) ~= "string" or name == "" then return end
  local key = scope .. name
  local node = memory.index[key]
  if node then
    node.value = variant
    unlink(node)
    push_front(node)
    return
  end
  node = { key = key, value = variant }
  push_front(node)
  memory.index[key] = node
  memory.size = memory.size + 1
  while memory.size > MEMORY_SIZE do
    local old = memory.tail
    unlink(old)
    memory.index[old.key] = nil
    memory.size = memory.size - 1
  end
end

local function lookup(scope, name)
  if MEMORY_SIZE == 0 or type(name) ~= "string" or name == "" then return nil end
  local node = memory.index[scope .. name]
  if not node then return nil end
  unlink(node)
  push_front(node)
  return node.value
end

local function str_or_empty(v)
  if type(v) == "string" then return v end
  return ""
end

-- Server names are unique per account and region. The account is
-- recipientAccountId when it is a non-empty string, else userIdentity.accountId.
local function memory_scope(ev)
  local acct = ev.recipientAccountId
  if type(acct) ~= "string" or acct == "" then acct = str_or_empty(get(ev.userIdentity, "accountId")) end
  return acct .. "|" .. str_or_empty(ev.awsRegion) .. "|"
end

local function classify_cm(ev)
  local req, resp = ev.requestParameters, ev.responseElements
  local scope = memory_scope(ev)
  for _, list_key in ipairs({ "servers", "backups" }) do
    local list = get(resp, list_key)
    if is_array(list) then
      for i = 1, #list do
        local item = list[i]
        learn(scope, get(item, "serverName"), engine_variant(get(item, "engine")))
      end
    end
  end
  local server, backup = get(resp, "server"), get(resp, "backup")
  -- Same order as classifyCM in filter/classify.go; `or` stops at the first hit.
  local variant = engine_variant(get(req, "engine"))
    or engine_variant(get(server, "engine"))
    or engine_variant(get(backup, "engine"))
    or unanimous(get(resp, "servers"), "engine")
    or unanimous(get(resp, "backups"), "engine")
    or attribute_names(req, 0)
    or attribute_names(resp, 0)
    or model_variant(get(req, "engineModel"))
    or model_variant(get(server, "engineModel"))
  local names = { get(req, "serverName"), get(server, "serverName"), get(backup, "serverName") }
  if variant then
    for i = 1, 3 do learn(scope, names[i], variant) end
    return variant
  end
  for i = 1, 3 do
    local v = lookup(scope, names[i])
    if v then return v end
  end
  return "cm_unknown"
end

-------------------------------------------------------------------- redact --

-- Names repeat across events, so normalized-name verdicts are cached (bounded,
-- since names come from the data).
local sensitive_cache, sensitive_cached = {}, 0

local function is_sensitive(name)
  local hit = sensitive_cache[name]
  if hit ~= nil then return hit end
  local norm = string.gsub(string.lower(name), "[_%-]", "")
  local result = false
  for i = 1, #REDACT_FRAGMENTS do
    if string.find(norm, REDACT_FRAGMENTS[i], 1, true) then
      result = true
      break
    end
  end
  if sensitive_cached >= 4096 then sensitive_cache, sensitive_cached = {}, 0 end
  sensitive_cache[name] = result
  sensitive_cached = sensitive_cached + 1
  return result
end

local function already_redacted(s)
  if s == "" or s == "HIDDEN_DUE_TO_SECURITY_REASONS" then return true end
  local l = string.lower(s)
  return l == "*** redacted ***" or l == "**redacted**"
end

local PAIR_NAMES = { "name", "attributeName", "Name", "key", "Key" }
local PAIR_VALUES = { value = true, attributeValue = true, Value = true }

-- redact walks container t (at depth) and replaces sensitive strings in place.
-- A child is sensitive when its parent was, when its own key is a sensitive
-- name, or when it is the value of a {name: <sensitive>, value: ...} pair.
local function redact(t, sensitive, depth)
  local child_depth = depth + 1
  if child_depth > MAX_DEPTH then return end
  if is_array(t) then
    for i = 1, #t do
      local v = t[i]
      if type(v) == "string" then
        if sensitive and not already_redacted(v) then t[i] = REDACTED end
      elseif type(v) == "table" then
        redact(v, sensitive, child_depth)
      end
    end
    return
  end
  local pair = t.secure == true or t.Secure == true
  for i = 1, #PAIR_NAMES do
    local n = t[PAIR_NAMES[i]]
    if type(n) == "string" and is_sensitive(n) then pair = true end
  end
  for k, v in pairs(t) do
    local s = sensitive or (type(k) == "string" and is_sensitive(k))
    if pair and PAIR_VALUES[k] then s = true end
    if type(v) == "string" then
      -- Assigning to an existing key during pairs() is allowed in Lua.
      if s and not already_redacted(v) then t[k] = REDACTED end
    elseif type(v) == "table" then
      redact(v, s, child_depth)
    end
  end
end

local REDACT_SECTIONS = { "requestParameters", "responseElements", "additionalEventData", "serviceEventDetails" }

------------------------------------------------------------------- flatten --

-- flatten copies the leaves of map m into out as prefix_path keys. Arrays are
-- leaves; empty maps contribute nothing.
local function flatten(out, prefix, m)
  for k, v in pairs(m) do
    if type(k) == "string" then
      local key = prefix .. SEP .. k
      if is_map(v) then
        flatten(out, key, v)
      elseif is_array(v) or type(v) ~= "table" then
        out[key] = v
      end -- else: an empty table built outside Fluent Bit, taken as {}
    end
  end
end

---------------------------------------------------------------------- time --

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function days_in(m, y)
  if m == 2 then
    if (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 then return 29 end
    return 28
  end
  if m == 4 or m == 6 or m == 9 or m == 11 then return 30 end
  return 31
end

local function valid_civil(y, mo, d, h, mi, se)
  return mo >= 1 and mo <= 12 and d >= 1 and d <= days_in(mo, y) and h < 24 and mi < 60 and se < 60
end

-- parse_event_time reads CloudTrail's "2014-05-28T16:05:29Z", or full RFC 3339
-- with fractional seconds and an offset; it returns seconds and nanoseconds.
local function parse_event_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se, rest = string.match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d, h, mi, se = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(se)
  if not valid_civil(y, mo, d, h, mi, se) then return nil end
  -- Fraction: '.' or ',' and digits (Go's time.Parse accepts both), at most
  -- nine significant.
  local frac, tz = string.match(rest, "^[.,](%d+)(.*)$")
  if not frac then frac, tz = "", rest end
  local offset = 0
  if tz ~= "Z" then
    local sign, oh, om = string.match(tz, "^([+%-])(%d%d):(%d%d)$")
    if not sign then return nil end
    oh, om = tonumber(oh), tonumber(om)
    if oh >= 24 or om >= 60 then return nil end
    offset = (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
  end
  local nsec = 0
  if frac ~= "" then nsec = tonumber(string.sub(frac .. "000000000", 1, 9)) end
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset, nsec
end

-- quote renders eventTime for the warning like the Go filter's quoteValue.
local function quote(v)
  if v == nil then return "(missing)" end
  if type(v) == "string" then
    local s = v
    local long = #s > 64
    if long then s = string.sub(s, 1, 64) end
    s = '"' .. string.gsub(s, '[%c"\\]', function(c)
      if c == "\n" then return "\\n" end
      if c == "\r" then return "\\r" end
      if c == "\t" then return "\\t" end
      if c == '"' or c == "\\" then return "\\" .. c end
      return string.format("\\u%04x", string.byte(c))
    end) .. '"'
    if long then s = s .. "…" end
    return s
  end
  if type(v) == "userdata" then return "null" end
  return tostring(v)
end

------------------------------------------------------------------- filter --

local OWN_FIELDS = { "opsworks_variant", "opsworks_error", "opsworks_warning" }

function opsworks(tag, timestamp, record)
  local src = record.eventSource
  -- What the Go filter's detect() calls an event: eventSource and eventName,
  -- or a CloudTrail Insight (which has no eventSource, so it is dropped below).
  -- Log files ({"Records": [...]}) are not split here; they pass through.
  local is_event = (src ~= nil and record.eventName ~= nil) or record.eventType == "AwsCloudTrailInsight"
  if record.Records ~= nil or not is_event then
    return 0, timestamp, record -- not a CloudTrail event: leave it alone
  end
  if type(src) ~= "string" or not SOURCES[src] then
    return -1, timestamp, record
  end

  local variant = "stacks"
  if src == "opsworks-cm.amazonaws.com" then variant = classify_cm(record) end

  for i = 1, #REDACT_SECTIONS do
    local section = record[REDACT_SECTIONS[i]]
    if type(section) == "table" then redact(section, false, 0) end
  end

  local ui = record.userIdentity
  if is_map(ui) then
    record.userIdentity = nil
    flatten(record, "userIdentity", ui)
  end
  for i = 1, #OWN_FIELDS do record[OWN_FIELDS[i]] = nil end
  record.opsworks_variant = variant

  local sec, nsec = parse_event_time(record.eventTime)
  if not sec then
    record.opsworks_warning = "eventTime " .. quote(record.eventTime) ..
      " is not an RFC 3339 timestamp; the record time was kept"
    return 2, timestamp, record
  end
  return 1, { sec = sec, nsec = nsec }, record
end

-- opsworks_records does the same to log files {"Records": [...]} (tail + json
-- parser on NDJSON of whole log files): each element goes through opsworks,
-- the kept ones are returned as an array, which Fluent Bit splits into one
-- record per event. Lua gives all of them one time (the file's record time):
-- a returned array cannot carry a time per record, so each event's eventTime
-- is parsed (the same work as the Go filter's) but not applied. Records that
-- are not log files go to opsworks. Used by filter-ratio.sh (lua-records.conf).
function opsworks_records(tag, timestamp, record)
  local recs = record.Records
  if not is_array(recs) then
    return opsworks(tag, timestamp, record)
  end
  local out = {}
  for i = 1, #recs do
    local ev = recs[i]
    if is_map(ev) then
      local code, _, r = opsworks(tag, timestamp, ev)
      if code == 1 or code == 2 then
        out[#out + 1] = r
      end
    end
  end
  if #out == 0 then
    return -1, timestamp, record
  end
  return 2, timestamp, out
end
