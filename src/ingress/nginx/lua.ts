// The Lua that runs inside nginx (OpenResty's lua-nginx-module, Debian's libnginx-mod-http-lua),
// written beside nginx.conf as lua/podpath.lua. As ingress-nginx's balancer does, it keeps the
// endpoints out of nginx.conf: the controller POSTs them to the status server's
// /configuration/backends, a shared dict holds them, and every worker picks the new list up on
// its next request, so endpoint changes never reload nginx. It also chooses canaries and sticky
// endpoints, retries a failed connect on the next endpoint, and counts requests for /metrics.
// What a location needs per request (its upstream, canary, affinity and metric labels) is a Lua
// table built at start (podpath.locations, indexed by the number its rewrite_by_lua passes), not
// nginx variables read on every request; request counts gather in each worker and go to the
// shared dict twice a second (as ingress-nginx's monitor batches them), not two locked shared
// dict writes per request. Before a reload the controller asks the running workers to drain
// (POST /configuration/drain with their generation): from then on their responses carry
// `Connection: close`, so clients leave the old workers between requests instead of having an
// idle kept-alive connection closed under a request they are sending.
//
// The payload is one line per upstream: `NAME ADDRESS:PORT ADDRESS:PORT ...` (nginx/backends.ts).

export const luaModuleName = 'podpath';

export const luaSource = `-- podpath ingress controller: balancer, canary, affinity and request metrics.
local ngx_balancer = require("ngx.balancer")

local M = {}
local data = ngx.shared.configuration_data
local metrics = ngx.shared.metrics
local exiting = ngx.worker.exiting
local backends, version, rr = {}, nil, {}
-- this worker's configuration is being replaced: answer with Connection: close
local draining = false
-- request_duration_seconds buckets, as ingress-nginx's
local buckets = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
local bucket_names = {}
for i, b in ipairs(buckets) do bucket_names[i] = tostring(b) end
-- request counts of this worker not yet in the shared dict: key -> { sum = seconds, [le] = count }
local pending = {}

-- X-Request-ID of a request that came without one: 32 hex digits, as nginx's $request_id, from
-- a xorshift128 generator each worker seeds from /dev/urandom. $request_id asks OpenSSL's DRBG
-- for 16 bytes on every request, which cost about a tenth of a worker's CPU per proxied request.
local bit = require("bit")
local tohex, bxor, bor, lshift, rshift = bit.tohex, bit.bxor, bit.bor, bit.lshift, bit.rshift
local rx, ry, rz, rw = 0, 0, 0, 1
local function seed_request_ids()
  local f = io.open("/dev/urandom", "rb")
  local s = f and f:read(16)
  if f then f:close() end
  if s == nil or #s < 16 then
    ngx.log(ngx.WARN, "no /dev/urandom: request ids from math.random")
    s = ""
    for _ = 1, 16 do s = s .. string.char(math.random(0, 255)) end
  end
  local function word(i) return bor(lshift(s:byte(i), 24), lshift(s:byte(i + 1), 16), lshift(s:byte(i + 2), 8), s:byte(i + 3)) end
  rx, ry, rz, rw = word(1), word(5), word(9), word(13)
  -- the one state xorshift never leaves
  if bor(rx, ry, rz, rw) == 0 then rw = 1 end
end
local function next_word()
  local t = bxor(rx, lshift(rx, 11))
  rx, ry, rz = ry, rz, rw
  rw = bxor(rw, rshift(rw, 19), t, rshift(t, 8))
  return rw
end
local function request_id()
  return tohex(next_word()) .. tohex(next_word()) .. tohex(next_word()) .. tohex(next_word())
end

local function sync()
  local v = data:get("version")
  if v == version then return end
  local nb = {}
  for line in (data:get("backends") or ""):gmatch("[^\\n]+") do
    local name, rest = line:match("^(%S+)(.*)$")
    if name then
      local list = {}
      for ep in rest:gmatch("%S+") do
        local host, port = ep:match("^(.+):(%d+)$")
        if host then list[#list + 1] = { host = host, port = tonumber(port), key = ep } end
      end
      nb[name] = list
    end
  end
  backends, version = nb, v
  draining = M.generation ~= nil and data:get("drain") == M.generation
end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return v
end

-- canary-by-header (always/never, or an exact canary-by-header-value), then canary-weight
local function to_canary(c)
  if c.header then
    local v = header(c.header)
    if v ~= nil then
      if c.value then
        if v == c.value then return true end
      elseif v == "always" then return true
      elseif v == "never" then return false
      end
    end
  end
  if c.weight <= 0 then return false end
  if c.weight >= c.total then return true end
  return math.random(c.total) <= c.weight
end

local function next_rr(name, list)
  local i = rr[name]
  if i == nil then i = math.random(#list) - 1 end
  i = i % #list + 1
  rr[name] = i
  return list[i]
end

-- session affinity by cookie: the cookie names the endpoint (md5 of ADDRESS:PORT)
local function pick(name, list, aff)
  if aff == nil then return next_rr(name, list) end
  local v = ngx.var["cookie_" .. aff.cookie]
  if v then
    for _, ep in ipairs(list) do
      if ngx.md5(ep.key) == v then return ep end
    end
  end
  local ep = next_rr(name, list)
  local parts = { aff.cookie .. "=" .. ngx.md5(ep.key), "Path=" .. aff.path, "HttpOnly" }
  if aff.max_age then parts[#parts + 1] = "Max-Age=" .. aff.max_age end
  ngx.header["Set-Cookie"] = table.concat(parts, "; ")
  return ep
end

-- routes (a Gateway listener's HTTPRoute matches, M.routes[N], in precedence order but
-- for the Host): the first of the most specific Host match whose path, method, headers and query
-- all match
local function host_rank(names, host)
  if #names == 0 then return 0, 0 end
  local e, c
  for _, n in ipairs(names) do
    local ne, nc
    if n:sub(1, 2) == "*." then
      local suffix = n:sub(2)
      if #host > #suffix and host:sub(-#suffix) == suffix then ne, nc = 0, #n end
    elseif n == host then
      ne, nc = #n, #n
    end
    if ne and (e == nil or ne > e or (ne == e and nc > c)) then e, c = ne, nc end
  end
  return e, c
end

local function full_match(s, pattern)
  return ngx.re.find(s, "^(?:" .. pattern .. ")$", "jo") ~= nil
end

local function value_matches(m, v)
  if v == nil then return false end
  if m.regex then return full_match(v, m.value) end
  return v == m.value
end

local function joined(v)
  if type(v) == "table" then return table.concat(v, ",") end
  if v == true then return "" end
  return v
end

local function path_matches(p, path)
  if p.type == "Exact" then return path == p.value end
  if p.type == "RegularExpression" then return full_match(path, p.value) end
  local prefix = p.value:gsub("/$", "")
  return prefix == "" or path == prefix or path:sub(1, #prefix + 1) == prefix .. "/"
end

-- the request's headers and query arguments are read (into tables) only for a match that needs them
local function choice_matches(c, path, req)
  if not path_matches(c.path, path) then return false end
  if c.method and c.method ~= ngx.req.get_method() then return false end
  if #c.headers > 0 then
    req.headers = req.headers or ngx.req.get_headers()
    for _, h in ipairs(c.headers) do
      if not value_matches(h, joined(req.headers[h.name])) then return false end
    end
  end
  if #c.query > 0 then
    req.args = req.args or ngx.req.get_uri_args()
    for _, q in ipairs(c.query) do
      local v = req.args[q.name]
      if type(v) == "table" then v = v[1] end
      if v == true then v = "" end
      if not value_matches(q, v) then return false end
    end
  end
  return true
end

local function edited_path(path, edit, choice)
  if edit.full then return edit.full end
  local prefix = choice.path.value:gsub("/$", "")
  local repl = edit.prefix:gsub("/$", "")
  local out = repl .. path:sub(#prefix + 1)
  if out == "" then return "/" end
  return out
end

local default_ports = { http = 80, https = 443 }

-- a filter; a redirect answers at once
local function apply(f, choice, ctx)
  if f.type == "request-headers" then
    for _, kv in ipairs(f.set) do ngx.req.set_header(kv[1], kv[2]) end
    for _, kv in ipairs(f.add) do
      local had = joined(ngx.req.get_headers()[kv[1]])
      ngx.req.set_header(kv[1], had and (had .. "," .. kv[2]) or kv[2])
    end
    for _, n in ipairs(f.remove) do ngx.req.clear_header(n) end
  elseif f.type == "response-headers" then
    ctx.response = ctx.response or {}
    table.insert(ctx.response, f)
  elseif f.type == "rewrite" then
    -- the Host sent upstream is $best_http_host, a map of $http_host read after this phase
    if f.hostname then ngx.req.set_header("Host", f.hostname) end
    if f.path then ngx.req.set_uri(edited_path(ngx.var.uri, f.path, choice)) end
  elseif f.type == "redirect" then
    local scheme = f.scheme or ngx.var.scheme
    local host = f.hostname or ctx.host
    local port = f.port
    if port == nil then
      if f.scheme then port = default_ports[scheme] or tonumber(ngx.var.pp_listener_port)
      else port = tonumber(ngx.var.pp_listener_port) end
    end
    local path = f.path and edited_path(ngx.var.uri, f.path, choice) or ngx.var.uri
    local hostport = host
    if port ~= default_ports[scheme] then hostport = host .. ":" .. port end
    local args = ngx.var.args
    return ngx.redirect(scheme .. "://" .. hostport .. path .. (args and ("?" .. args) or ""), f.statusCode)
  end
end

local function pick_backend(backends)
  local total = 0
  for _, b in ipairs(backends) do total = total + b.weight end
  if total <= 0 then return nil end
  local r = math.random() * total
  for _, b in ipairs(backends) do
    if b.weight > 0 then
      r = r - b.weight
      if r < 0 then return b end
    end
  end
  return backends[#backends]
end

-- the route of a location with routes: its names go to the log's variables and the metric labels
local function route(choices, ctx)
  local host = (ngx.var.host or ""):lower():gsub("%.$", "")
  local path = ngx.var.uri
  local req = {}
  local best, be, bc
  for _, c in ipairs(choices) do
    local e, n = host_rank(c.hostnames, host)
    if e and (best == nil or e > be or (e == be and n > bc)) and choice_matches(c, path, req) then
      best, be, bc = c, e, n
    end
  end
  if best == nil then return ngx.exit(ngx.HTTP_NOT_FOUND) end
  local var = ngx.var
  var.namespace = best.namespace
  var.ingress_name = best.name
  var.location_path = best.path.value
  ctx.host = host
  for _, f in ipairs(best.filters) do apply(f, best, ctx) end
  local b = pick_backend(best.backends)
  if b == nil or b.upstream == nil then
    if b then var.service_name = b.service end
    return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
  end
  var.service_name = b.service
  var.service_port = tostring(b.port)
  var.proxy_upstream_name = b.upstream
  for _, f in ipairs(b.filters) do apply(f, best, ctx) end
  ctx.labels = best.namespace .. "\\t" .. best.name .. "\\t" .. b.service .. "\\t"
  ctx.path = best.path.value
  return b.upstream
end

-- the response's header changes a route asked for
function M.header_filter()
  local ctx = ngx.ctx.pp
  if ctx == nil or ctx.response == nil then return end
  for _, f in ipairs(ctx.response) do
    for _, kv in ipairs(f.set) do ngx.header[kv[1]] = kv[2] end
    for _, kv in ipairs(f.add) do
      local had = ngx.header[kv[1]]
      if type(had) == "table" then had[#had + 1] = kv[2] ngx.header[kv[1]] = had
      elseif had then ngx.header[kv[1]] = { had, kv[2] }
      else ngx.header[kv[1]] = kv[2] end
    end
    for _, n in ipairs(f.remove) do ngx.header[n] = nil end
  end
end

-- rewrite phase of location M.locations[id]: the route (where the location has routes), the
-- upstream (or its canary) and the first endpoint; 503 when there is none
function M.rewrite(id)
  sync()
  local given = ngx.var.http_x_request_id
  if given == nil or given == "" then ngx.var.pp_lua_request_id = request_id() end
  -- nginx adds its own "Connection: keep-alive"; clients take close over it (RFC 9112 §9.6)
  if draining or exiting() then ngx.header["Connection"] = "close" end
  local loc = M.locations[id]
  local ctx = { loc = loc, labels = loc.labels, path = loc.path }
  local name = loc.upstream
  if loc.routes then
    ngx.ctx.pp = ctx
    name = route(M.routes[loc.routes], ctx)
    if name == nil then return end
  end
  if loc.canary and to_canary(loc.canary) then
    name = loc.canary.upstream
    ngx.var.proxy_alternative_upstream_name = name
    ctx.canary = true
  end
  local list = backends[name]
  if list == nil or #list == 0 then
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
  ctx.name, ctx.list, ctx.first = name, list, pick(name, list, loc.affinity)
  if not loc.routes then ngx.ctx.pp = ctx end
end

-- balancer phase: the chosen endpoint; a retry (proxy_next_upstream) takes one not yet tried
function M.balance()
  local c = ngx.ctx.pp
  local ep
  if c.last == nil then
    ep = c.first
    -- a failed connect (refused: a pod that is going away) moves on until every endpoint had a
    -- try, at most 10: ingress-nginx stops after 3, which a scale-down can use up on dying pods
    local more = math.min(#c.list, 10) - 1
    if more > 0 then ngx_balancer.set_more_tries(more) end
  else
    -- a retry: the list as it is now (an endpoint that went away since the first try is gone
    -- from it), the next endpoint round the list not tried yet — so retries spread over the
    -- endpoints instead of all landing on the list's first ones
    c.tried = c.tried or {}
    c.tried[c.last.key] = true
    sync()
    local list = backends[c.name] or c.list
    for _ = 1, #list do
      local e = next_rr(c.name, list)
      if not c.tried[e.key] then ep = e break end
    end
    ep = ep or c.last
  end
  c.last = ep
  local ok, err = ngx_balancer.set_current_peer(ep.host, ep.port)
  if not ok then ngx.log(ngx.ERR, "set_current_peer ", ep.key, ": ", err) end
end

-- this worker's pending counts into the shared dict (the status server reads them from there)
local function flush()
  local p = pending
  if next(p) == nil then return end
  pending = {}
  for key, v in pairs(p) do
    metrics:incr("sum\\t" .. key, v.sum, 0)
    for le, n in pairs(v) do
      if le ~= "sum" then metrics:incr("bucket\\t" .. le .. "\\t" .. key, n, 0) end
    end
  end
end

function M.init_worker()
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
  seed_request_ids()
  -- also called (premature) as the worker shuts down, so its last counts are kept
  local ok, err = ngx.timer.every(0.5, flush)
  if not ok then ngx.log(ngx.ERR, "metrics timer: ", err) end
end

-- log phase: requests (the buckets' counts add up to them) and their duration by ingress,
-- service, status, method, server and path
function M.log()
  local c = ngx.ctx.pp
  local var = ngx.var
  local labels, path, canary
  if c and c.labels then
    labels, path, canary = c.labels, c.path, c.canary
  else
    -- the request ended before a route or an endpoint was chosen: the location's variables say what it was
    labels = var.namespace .. "\\t" .. var.ingress_name .. "\\t" .. var.service_name .. "\\t"
    path, canary = var.location_path, var.proxy_alternative_upstream_name ~= ""
  end
  local server = c and c.loc and c.loc.server or var.pp_server
  local key = labels .. ngx.status .. "\\t" .. ngx.req.get_method() .. "\\t" .. server .. "\\t" .. path .. (canary and "\\tcanary" or "\\t")
  local t = ngx.now() - ngx.req.start_time()
  local le = "+Inf"
  for i = 1, #buckets do
    if t <= buckets[i] then le = bucket_names[i] break end
  end
  local p = pending[key]
  if p == nil then
    p = { sum = 0 }
    pending[key] = p
  end
  p.sum = p.sum + t
  p[le] = (p[le] or 0) + 1
  -- a worker on its way out may have no timer left to flush with
  if exiting() then flush() end
end

-- the status server: POST/GET /configuration/backends, POST /configuration/drain, GET /configuration/metrics
function M.configuration()
  local uri = ngx.var.uri
  if uri == "/configuration/backends" then
    if ngx.req.get_method() == "POST" then
      ngx.req.read_body()
      local body = ngx.req.get_body_data()
      if body == nil then
        local file = ngx.req.get_body_file()
        if file then
          local f = io.open(file, "r")
          body = f:read("*a")
          f:close()
        end
      end
      data:set("backends", body or "")
      data:incr("version", 1, 0)
      ngx.status = ngx.HTTP_CREATED
      return
    end
    ngx.print(data:get("backends") or "")
    return
  end
  if uri == "/configuration/drain" and ngx.req.get_method() == "POST" then
    -- the workers of this generation answer with Connection: close from their next request on
    ngx.req.read_body()
    data:set("drain", ngx.req.get_body_data() or "")
    data:incr("version", 1, 0)
    ngx.status = ngx.HTTP_CREATED
    return
  end
  if uri == "/configuration/metrics" then
    local out = {}
    for _, k in ipairs(metrics:get_keys(0)) do
      out[#out + 1] = k .. "\\t" .. tostring(metrics:get(k))
    end
    ngx.print(table.concat(out, "\\n"))
    return
  end
  ngx.exit(ngx.HTTP_NOT_FOUND)
end

return M
`;
