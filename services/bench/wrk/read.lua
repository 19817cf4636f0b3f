-- wrk script: GET /v1/cases/{id}, each thread (give one connection per thread: -tN -cN) on a
-- case of its own from CASES ("id,id,..."); the token comes with -H "Authorization: Bearer ...".
--   CASES=... wrk -t32 -c32 -d8s --latency -s read.lua -H "Authorization: Bearer $TOKEN" URL
local cases = {}
for id in string.gmatch(os.getenv("CASES"), "[^,]+") do table.insert(cases, id) end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("case_id", cases[(counter - 1) % #cases + 1])
end

function request()
  return wrk.format("GET", "/v1/cases/" .. case_id)
end
