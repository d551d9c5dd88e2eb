-- wrk script: POST account_check for 10 accounts (bench/rest_bench.sh sets the URL).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local items = {}
for i = 0, 9 do items[#items + 1] = string.format('{"UserID":"bench_user_%d"}', i) end
wrk.body = '{"CheckItem":[' .. table.concat(items, ",") .. ']}'

dofile(os.getenv("PARLEY_BENCH_DIR") .. "/wrk_report.lua")
