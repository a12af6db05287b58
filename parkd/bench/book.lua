-- wrk script: every request books a different 1-hour window on one of the
-- lots in LOTS (set by run.sh), so bookings land on distinct spots and times.
-- Environment: TOKEN (bearer), LOTS (comma-separated lot ids), BASE_EPOCH (UTC seconds, a future hour).
local token = os.getenv("TOKEN")
local lots = {}
for id in string.gmatch(os.getenv("LOTS") or "", "[^,]+") do lots[#lots + 1] = id end
local base = tonumber(os.getenv("BASE_EPOCH"))
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
  counter = counter + 1
  local n = counter * 4 + thread_id
  local lot = lots[(n % #lots) + 1]
  -- Spread over 60 days of 1-hour slots so the inventory never fills.
  local slot = math.floor(n / #lots) % (24 * 60)
  local start = base + slot * 3600
  local body = string.format(
    '{"lot_id":"%s","start_time":"%s","end_time":"%s"}', lot, iso(start), iso(start + 3600))
  return wrk.format("POST", "/api/v1/reservations",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

local codes = {}
function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
