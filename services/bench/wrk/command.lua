-- wrk script: POST /v1/cases/{id}/services with If-Match carried from the last answer's ETag,
-- each thread (give one connection per thread: -tN -cN) on a case of its own from CASES
-- ("id:version,id:version,..."); BODY is a recorded service's JSON with SERVICE_ID where its
-- service_id goes, replaced by one of the thread's own for each request.
--   CASES=... BODY=... wrk -t32 -c32 -d8s --latency -s command.lua \
--     -H "Authorization: Bearer $TOKEN" URL
local cases = {}
for id, v in string.gmatch(os.getenv("CASES"), "([^,:]+):(%d+)") do
  table.insert(cases, {id, v})
end
local counter = 0

function setup(thread)
  counter = counter + 1
  local case = cases[(counter - 1) % #cases + 1]
  thread:set("case_id", case[1])
  thread:set("version", case[2])
end

local n = 0

function request()
  n = n + 1
  local body = string.gsub(os.getenv("BODY"), "SERVICE_ID", "wrk-" .. n)
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end -- the -H Authorization header
  headers["Content-Type"] = "application/json"
  headers["If-Match"] = '"' .. version .. '"'
  return wrk.format("POST", "/v1/cases/" .. case_id .. "/services", headers, body)
end

function response(status, headers, body)
  local etag = headers["ETag"] or headers["etag"]
  if status == 200 and etag then version = string.gsub(etag, '"', "") end
end
