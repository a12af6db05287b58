-- wrk script: every request posts a batch of 100 sensor readings for one lot,
-- authenticated with that lot's device key. Lots are taken in turn and each
-- batch covers the next 100 spots of its lot, flipping their occupancy on
-- every pass, with `at` rising by a microsecond per reading: nearly every
-- reading changes its spot (and writes its event) rather than being stale.
-- Environment: SENSOR_PLAN, a file with one line per lot: "<key> <spot id> <spot id> …"
-- (written by sensors.sh).
local plan = {}
for line in io.lines(os.getenv("SENSOR_PLAN")) do
  local words = {}
  for w in string.gmatch(line, "%S+") do words[#words + 1] = w end
  local key = table.remove(words, 1)
  plan[#plan + 1] = { key = key, spots = words, next = 0, pass = 0 }
end
-- One day ago: every `at` stays in the past for the whole run.
local base = os.time() - 86400
local micros = 0
local turn = 0

local function iso(us)
  local secs = base + math.floor(us / 1000000)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%06dZ", us % 1000000)
end

function request()
  turn = turn + 1
  local lot = plan[(turn % #plan) + 1]
  local readings = {}
  for i = 1, 100 do
    if lot.next >= #lot.spots then
      lot.next = 0
      lot.pass = lot.pass + 1
    end
    lot.next = lot.next + 1
    micros = micros + 1
    local occupied = (lot.pass % 2 == 0) and "true" or "false"
    readings[i] = string.format('{"spot":"%s","occupied":%s,"at":"%s"}',
      lot.spots[lot.next], occupied, iso(micros))
  end
  local body = '{"events":[' .. table.concat(readings, ",") .. ']}'
  return wrk.format("POST", "/api/v1/sensors/events",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Device " .. lot.key }, body)
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("readings/s %.0f (batches of 100)\n",
    summary.requests / (summary.duration / 1000000) * 100))
end
