-- wrk script for benchmarks/latency.py: one report per POST, open loop at a fixed rate.
-- Arguments (after --): token, bodies file (one JSON body per line), rate per second, start (Unix s).
-- Request i is due at start + i/rate; a connection that is free waits for the next due slot, so
-- the schedule does not bend to the answers (run with enough connections to absorb slow ones).
-- The bench ends wrk with SIGINT once the stream shows every report (wrk would run its whole -d).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } qm_timespec;
int clock_gettime(int clk_id, qm_timespec *tp);
]]
local ts = ffi.new("qm_timespec")
local function now()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME, the bench's time.time()
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

bodies, rate, start = {}, 0, 0
claimed, sent, answered, non_202, late_max_ms = 0, 0, 0, 0, 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines(args[2]) do
    table.insert(bodies, line)
  end
  rate, start = tonumber(args[3]), tonumber(args[4])
end

function delay()
  if claimed >= #bodies then
    return 3600000 -- all sent: idle until the answers are in
  end
  local due = start + claimed / rate
  claimed = claimed + 1
  local wait = (due - now()) * 1000
  return wait > 0 and math.floor(wait) or 0
end

function request()
  if claimed == 0 then -- wrk's own check of the script at start, before any delay(): not sent
    return wrk.format(nil, nil, nil, bodies[1])
  end
  local i = sent
  sent = sent + 1
  local late = (now() - (start + i / rate)) * 1000
  if late > late_max_ms then late_max_ms = late end
  return wrk.format(nil, nil, nil, bodies[i + 1])
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 202 then non_202 = non_202 + 1 end
end

function done(summary, latency, requests)
  local t = threads[1]
  local e = summary.errors
  io.write(string.format(
    'QMRESULT {"sent": %d, "answered": %d, "non_202": %d, "send_late_max_ms": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    t:get("sent"), t:get("answered"), t:get("non_202"), t:get("late_max_ms"),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout))
end
