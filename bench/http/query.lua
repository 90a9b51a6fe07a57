-- wrk script for bench/http/run.sh: POST /api/query users:getCurrentUser with a bearer token,
-- checking EVERY response: a status other than 200, or a body without "status":"success",
-- is counted as a failure (wrk itself only counts socket errors and non-2xx/3xx).
--
--   wrk -t2 -c64 -d10s -s bench/http/query.lua http://127.0.0.1:PORT/api/query -- TOKEN
--
-- TOKEN "none" sends no Authorization header (signed-out call; used for profiling).
-- At the end prints one line:
--   RESULT requests=N duration_s=S rps=R p50_us=A p99_us=B non200=X bad_body=Y socket_errors=Z

wrk.method = "POST"
wrk.path = "/api/query" -- replaces any path given in the URL
wrk.body = '{"path":"users:getCurrentUser","args":[{}],"format":"json"}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local token = args[1]
  if token == nil or token == "" then
    error("give the token after --, or \"none\"")
  end
  if token ~= "none" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  non200 = 0
  bad_body = 0
  first_failure = nil
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_failure == nil then first_failure = status .. " " .. tostring(body) end
  elseif body == nil or not string.find(body, '"status":"success"', 1, true) then
    bad_body = bad_body + 1
    if first_failure == nil then first_failure = status .. " " .. tostring(body) end
  end
end

function done(summary, latency, requests)
  local non200_total, bad_total, first = 0, 0, nil
  for _, thread in ipairs(threads) do
    non200_total = non200_total + thread:get("non200")
    bad_total = bad_total + thread:get("bad_body")
    first = first or thread:get("first_failure")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local seconds = summary.duration / 1e6
  if first ~= nil then
    io.write("first failure: " .. string.sub(first, 1, 300) .. "\n")
  end
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.0f p50_us=%d p99_us=%d non200=%d bad_body=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(99),
    non200_total, bad_total, socket_errors))
end
