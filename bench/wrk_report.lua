-- Shared by the wrk scripts in bench/: counts non-OK answers and prints
-- requests/s and latency percentiles.
local failures = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"ErrorCode":0', 1, true) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50: %.2f ms  p99: %.2f ms  p99.9: %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
  io.write(string.format("non-OK responses: %d (per wrk thread that saw them)\n", failures))
end
