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

dofile(os.getenv("PARLEY_BENCH_DIR") .. "/wrk_report.lua")
