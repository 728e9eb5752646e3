// The Lua that runs inside nginx (OpenResty's lua-nginx-module, Debian's libnginx-mod-http-lua),
// written beside nginx.conf as lua/podpath.lua. As ingress-nginx's balancer does, it keeps the
// endpoints out of nginx.conf: the controller POSTs them to the status server's
// /configuration/backends, a shared dict holds them, and every worker picks the new list up on
// its next request, so endpoint changes never reload nginx. It also chooses canaries and sticky
// endpoints, retries a failed connect on the next endpoint, and counts requests for /metrics.
//
// The payload is one line per upstream: `NAME ADDRESS:PORT ADDRESS:PORT ...` (nginx/backends.ts).

export const luaModuleName = 'podpath';

export const luaSource = `-- podpath ingress controller: balancer, canary, affinity and request metrics.
local ngx_balancer = require("ngx.balancer")

local M = {}
local data = ngx.shared.configuration_data
local metrics = ngx.shared.metrics
local backends, version, rr = {}, nil, {}
-- request_duration_seconds buckets, as ingress-nginx's
local buckets = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }

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
end

local function header(name)
  local v = ngx.req.get_headers()[name]
  if type(v) == "table" then v = v[1] end
  return v
end

-- canary-by-header (always/never, or an exact canary-by-header-value), then canary-weight
local function to_canary()
  if ngx.var.canary_upstream == "" then return false end
  local name = ngx.var.canary_header
  if name ~= "" then
    local v = header(name)
    local want = ngx.var.canary_header_value
    if v ~= nil then
      if want ~= "" then
        if v == want then return true end
      elseif v == "always" then return true
      elseif v == "never" then return false
      end
    end
  end
  local weight = tonumber(ngx.var.canary_weight) or 0
  local total = tonumber(ngx.var.canary_weight_total) or 100
  if weight <= 0 then return false end
  if weight >= total then return true end
  return math.random(total) <= weight
end

local function next_rr(name, list)
  local i = rr[name]
  if i == nil then i = math.random(#list) - 1 end
  i = i % #list + 1
  rr[name] = i
  return list[i]
end

-- session affinity by cookie: the cookie names the endpoint (md5 of ADDRESS:PORT)
local function pick(name, list)
  local cookie = ngx.var.affinity_cookie
  if cookie == "" then return next_rr(name, list) end
  local v = ngx.var["cookie_" .. cookie]
  if v then
    for _, ep in ipairs(list) do
      if ngx.md5(ep.key) == v then return ep end
    end
  end
  local ep = next_rr(name, list)
  local parts = { cookie .. "=" .. ngx.md5(ep.key), "Path=" .. ngx.var.affinity_path, "HttpOnly" }
  if ngx.var.affinity_max_age ~= "" then parts[#parts + 1] = "Max-Age=" .. ngx.var.affinity_max_age end
  ngx.header["Set-Cookie"] = table.concat(parts, "; ")
  return ep
end

-- routes (a Gateway listener's HTTPRoute matches, M.routes[$pp_routes], in precedence order but
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

local function choice_matches(c, path, headers, args)
  if not path_matches(c.path, path) then return false end
  if c.method and c.method ~= ngx.req.get_method() then return false end
  for _, h in ipairs(c.headers) do
    if not value_matches(h, joined(headers[h.name])) then return false end
  end
  for _, q in ipairs(c.query) do
    local v = args[q.name]
    if type(v) == "table" then v = v[1] end
    if v == true then v = "" end
    if not value_matches(q, v) then return false end
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

function M.route(table_id)
  local choices = M.routes[tonumber(table_id)]
  local host = (ngx.var.host or ""):lower():gsub("%.$", "")
  local path = ngx.var.uri
  local headers = ngx.req.get_headers()
  local args = ngx.req.get_uri_args()
  local best, be, bc
  for _, c in ipairs(choices) do
    local e, n = host_rank(c.hostnames, host)
    if e and (best == nil or e > be or (e == be and n > bc)) and choice_matches(c, path, headers, args) then
      best, be, bc = c, e, n
    end
  end
  if best == nil then return ngx.exit(ngx.HTTP_NOT_FOUND) end
  ngx.var.namespace = best.namespace
  ngx.var.ingress_name = best.name
  ngx.var.location_path = best.path.value
  local ctx = { host = host }
  ngx.ctx.pp_route = ctx
  for _, f in ipairs(best.filters) do apply(f, best, ctx) end
  local b = pick_backend(best.backends)
  if b == nil or b.upstream == nil then
    if b then ngx.var.service_name = b.service end
    return ngx.exit(ngx.HTTP_INTERNAL_SERVER_ERROR)
  end
  ngx.var.service_name = b.service
  ngx.var.service_port = tostring(b.port)
  ngx.var.proxy_upstream_name = b.upstream
  for _, f in ipairs(b.filters) do apply(f, best, ctx) end
end

-- the response's header changes a route asked for
function M.header_filter()
  local ctx = ngx.ctx.pp_route
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

-- rewrite phase: the route (where the location has routes), the upstream (or its canary) and the
-- first endpoint; 503 when there is none
function M.rewrite()
  sync()
  local routes = ngx.var.pp_routes
  if routes ~= nil and routes ~= "" then
    M.route(routes)
    if ngx.var.proxy_upstream_name == "" then return end
  end
  local name = ngx.var.proxy_upstream_name
  if to_canary() then
    name = ngx.var.canary_upstream
    ngx.var.proxy_alternative_upstream_name = name
  end
  local list = backends[name]
  if list == nil or #list == 0 then
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
  ngx.ctx.pp = { name = name, list = list, first = pick(name, list), tried = {} }
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

-- log phase: requests (the buckets' counts add up to them) and their duration by ingress, service, status, method, server and path
function M.log()
  local key = table.concat({ ngx.var.namespace, ngx.var.ingress_name, ngx.var.service_name, ngx.var.status,
    ngx.req.get_method(), ngx.var.pp_server, ngx.var.location_path,
    ngx.var.proxy_alternative_upstream_name ~= "" and "canary" or "" }, "\\t")
  local t = tonumber(ngx.var.request_time) or 0
  metrics:incr("sum\\t" .. key, t, 0)
  local le = "+Inf"
  for _, b in ipairs(buckets) do
    if t <= b then le = tostring(b) break end
  end
  metrics:incr("bucket\\t" .. le .. "\\t" .. key, 1, 0)
end

-- the status server: POST/GET /configuration/backends, GET /configuration/metrics
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
