-- wrk script for bench/suite.py: refresh-token rotation chains, one connection per wrk thread (-t N -c N).
-- Each thread owns one refresh token (BENCH_REFRESH_TOKENS, comma-separated) and replaces it with the
-- one each response rotates in, so every request spends a fresh token, as a real client does.
--   BENCH_CLIENT_ID  the public client the tokens were issued to
-- After wrk's report: the summary as one JSON line and the chains' current tokens (to continue them).

local tokens = {}
for token in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "[^,]+") do
  table.insert(tokens, token)
end
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("refresh", tokens[#threads])
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  client_id = os.getenv("BENCH_CLIENT_ID")
end

function request()
  return wrk.format(nil, nil, nil,
    "grant_type=refresh_token&client_id=" .. client_id .. "&refresh_token=" .. refresh)
end

function response(status, headers, body)
  local rotated = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
  if rotated then
    refresh = rotated
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
  local current = {}
  for _, thread in ipairs(threads) do
    table.insert(current, thread:get("refresh"))
  end
  io.write("BENCH_TOKENS " .. table.concat(current, ",") .. "\n")
end
