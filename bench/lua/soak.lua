-- Soak load for bench/soak.mjs: a mix of matched, parameterised, unmatched
-- and stalling requests. Every BLOCK_EVERY-th request holds the server's loop
-- for 150 ms; every METRICS_EVERY-th scrapes /metrics. Paths carry random
-- values so raw URLs never repeat: only route templates may be kept.
local BLOCK_EVERY = tonumber(os.getenv("SOAK_BLOCK_EVERY") or "20000")
local METRICS_EVERY = tonumber(os.getenv("SOAK_METRICS_EVERY") or "5000")
local TEMPLATES = 300
local counter = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

local function token()
  return string.format("%x%x", math.random(0, 0x7fffffff), math.random(0, 0xffff))
end

function request()
  counter = counter + 1
  local path
  if counter % BLOCK_EVERY == 0 then
    path = "/block"
  elseif counter % METRICS_EVERY == 0 then
    path = "/metrics"
  else
    local r = math.random()
    if r < 0.35 then
      path = "/"
    elseif r < 0.60 then
      path = "/t/" .. math.random(0, TEMPLATES - 1) .. "/" .. token()
    elseif r < 0.80 then
      path = "/tenants/" .. token() .. "/items/" .. token()
    else
      path = "/no/such/" .. token() .. "?q=" .. token()
    end
  end
  return wrk.format("GET", path)
end
