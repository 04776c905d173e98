-- wrk script for `python -m bench.systems`: POSTs a backup report (a success) with a bearer token.
-- BENCH_TOKENS names a file of report tokens, one a line; each request sends the next one, and
-- each wrk thread starts at its own place in the list, so threads rarely report for one system at
-- once. The bare route gets the very same requests.
local tokens = {}
local thread_id = 0
local counter = 0

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

init = function(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  counter = (tid or 0) * math.floor(#tokens / 4)
end

request = function()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", nil, headers, "status=ok&note=nightly+snapshot")
end
