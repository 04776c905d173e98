-- wrk script for `python -m bench.load`: posts the incident page's quick-post form, signed in.
-- BENCH_PATH (the form's action), BENCH_COOKIE (the session cookie) and BENCH_CSRF (the form's
-- token, URL-encoded) come from the environment; each request posts a different one-line note.
local path = os.getenv("BENCH_PATH")
local cookie = os.getenv("BENCH_COOKIE")
local csrf = os.getenv("BENCH_CSRF")
local thread_id = 0
local counter = 0

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

init = function(args)
  prefix = "csrf_token=" .. csrf .. "&kind=note&visibility=internal&body=Load+test+update+" .. tostring(tid) .. "-"
end

request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Cookie"] = cookie
  return wrk.format("POST", path, headers, prefix .. counter)
end
