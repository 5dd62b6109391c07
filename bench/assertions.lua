-- wrk script for bench/suite.py: client_credentials with signed client assertions (private_key_jwt),
-- one connection per wrk thread (-t N -c N). Every request spends a fresh assertion (a new jti) from
-- BENCH_ASSERTIONS_FILE (one per line, signed before the run): thread i sends lines i, i+N, i+2N...
-- After wrk's report: the summary as one JSON line.

local assertions = {}
local file = io.open(os.getenv("BENCH_ASSERTIONS_FILE"), "r")
for line in file:lines() do
  table.insert(assertions, line)
end
file:close()
local count = 0

function setup(thread)
  count = count + 1
  thread:set("first", count)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  step = tonumber(os.getenv("BENCH_THREADS"))
  index = first
end

function request()
  local assertion = assertions[index]
  index = index + step
  if index > #assertions then
    index = first -- used up: replays are refused and show as status errors
  end
  return wrk.format(nil, nil, nil,
    "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    .. "&client_assertion=" .. assertion)
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
end
