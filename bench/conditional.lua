-- wrk script for `python -m bench.live`: counts the answers by status, so a conditional GET that
-- stopped matching (a 200 instead of a 304) shows in the results instead of passing as "2xx/3xx".
local threads = {}

setup = function(thread)
  table.insert(threads, thread)
end

init = function(args)
  counts = {}
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for status, n in pairs(c) do
      total[status] = (total[status] or 0) + n
    end
  end
  for status, n in pairs(total) do
    io.write(string.format("status %d: %d\n", status, n))
  end
end
