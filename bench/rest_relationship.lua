-- wrk script for bench/relationship_bench.sh: friend_check of 100 accounts
-- (half friends, half strangers) or portrait_get of 100 random users.
local mode = os.getenv("REL_BENCH_MODE")
local users = tonumber(os.getenv("REL_BENCH_USERS"))
local friends = tonumber(os.getenv("REL_BENCH_FRIENDS"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  local owner = math.random(0, users - 1)
  local ids = {}
  if mode == "friend_check" then
    for k = 1, 50 do  -- friends: owner + 499k
      ids[#ids + 1] = string.format('"rb_%d"', (owner + 499 * (1 + (k * 7) % friends)) % users)
    end
    for k = 1, 50 do  -- almost surely strangers
      ids[#ids + 1] = string.format('"rb_%d"', math.random(0, users - 1))
    end
    return wrk.format(nil, nil, nil, string.format(
      '{"From_Account":"rb_%d","To_Account":[%s],"CheckType":"CheckResult_Type_Both"}',
      owner, table.concat(ids, ",")))
  end
  for k = 1, 100 do ids[#ids + 1] = string.format('"rb_%d"', math.random(0, users - 1)) end
  return wrk.format(nil, nil, nil, string.format(
    '{"To_Account":[%s],"TagList":["Tag_Profile_IM_Nick","Tag_Profile_IM_Gender","Tag_Profile_IM_Level"]}',
    table.concat(ids, ",")))
end

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
