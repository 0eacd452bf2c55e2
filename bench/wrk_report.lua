-- wrk script for bench/bench_http.py: `wrk -s bench/wrk_report.lua URL -- TAG`.
-- Gives every request its own X-Request-Id (TAG, thread number, counter: letters and
-- digits only, as the hub accepts), so the harness can match gunicorn's access log with
-- the audit events, and counts 2xx and other statuses (wrk's own count takes 3xx as
-- success). Prints one line for the harness to parse: "WRK {json}".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("number", #threads)
end

function init(args)
  tag, sent, ok, other = args[1] or "wrk", 0, 0, 0
end

function request()
  sent = sent + 1
  wrk.headers["X-Request-Id"] = tag .. "t" .. number .. "n" .. sent
  return wrk.format()
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  -- wrk calls request() once on the first thread to check it, and does not send that one
  local sent, ok, other = -1, 0, 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("sent")
    ok, other = ok + thread:get("ok"), other + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"sent": %d, "responses": %d, "seconds": %.3f, "ok": %d, "other": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "p50_ms": %.2f, "p99_ms": %.2f}\n',
    sent, summary.requests, summary.duration / 1e6, ok, other, e.connect + e.read + e.write,
    e.timeout, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
