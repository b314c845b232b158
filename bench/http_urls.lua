-- wrk script of bench/http_bench.sh: cycles through a URL list with a bearer
-- token per URL.
--
--   WRK_URLS=FILE WRK_THREADS=T wrk -t T -s bench/http_urls.lua http://127.0.0.1:PORT
--
-- FILE has one "TOKEN PATH" line per request.  Thread k (of T) takes the k-th
-- contiguous block of the lines and cycles through it, so the threads request
-- disjoint URLs and together request the whole list in order; every request is
-- formatted once at start-up.  done() prints one machine-readable line
-- ("WRK key=value ...") besides wrk's own report.  WRK_CLOSE=1 adds
-- "Connection: close" to every request (a new connection per request).

local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local idx = 1

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local close = os.getenv("WRK_CLOSE") == "1"
  local lines = {}
  local f = assert(io.open(os.getenv("WRK_URLS"), "r"))
  for line in f:lines() do
    local tok, path = line:match("^(%S+)%s+(%S+)")
    if tok then lines[#lines + 1] = {tok, path} end
  end
  f:close()
  local n = #lines
  local first = math.floor(tid * n / nthreads) + 1
  local last = math.floor((tid + 1) * n / nthreads)
  for i = first, last do
    local h = {["Authorization"] = "Bearer " .. lines[i][1]}
    if close then h["Connection"] = "close" end
    reqs[#reqs + 1] = wrk.format("GET", lines[i][2], h)
  end
  assert(#reqs > 0, "no URLs for thread " .. tid)
end

function request()
  local r = reqs[idx]
  idx = idx % #reqs + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_s=%.3f rps=%.1f bytes=%d " ..
    "lat_p50_ms=%.3f lat_p90_ms=%.3f lat_p99_ms=%.3f lat_p999_ms=%.3f lat_max_ms=%.3f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d http_ge_400=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.bytes,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.max / 1e3,
    e.connect, e.read, e.write, e.timeout, e.status))
end
