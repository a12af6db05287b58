-- wrk script: nearby search around random points in central Dresden, radius 2 km.
math.randomseed(42)
function request()
  local lat = 51.03 + math.random() * 0.04
  local lng = 13.70 + math.random() * 0.08
  return wrk.format("GET", string.format("/api/v1/parking-lots?lat=%.5f&lng=%.5f&radius=2000", lat, lng))
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
