-- wrk script for `python -m bench.api`: posts a timeline entry through /api/v1 with a bearer token.
-- BENCH_PATH (…/timeline) and BENCH_TOKEN come from the environment; each request posts a different note.
local path = os.getenv("BENCH_PATH")
local token = os.getenv("BENCH_TOKEN")
local thread_id = 0
local counter = 0

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
  local body = '{"body": "Load test update ' .. tostring(tid) .. '-' .. counter .. '", "kind": "note"}'
  return wrk.format("POST", path, headers, body)
end
