-- wrk script for govern's benchmark: POSTs JSON bodies read from files, rotating over them, with a bearer
-- token and (optionally) a fresh Idempotency-Key per request; prints one JSON line of figures when done.
-- Arguments after `--`: TOKEN IDEMPOTENT(0|1) BODY_FILE [BODY_FILE ...]

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  idempotent = args[2] == "1"
  bodies = {}
  for i = 3, #args do
    local file = assert(io.open(args[i], "rb"))
    table.insert(bodies, file:read("*a"))
    file:close()
  end
  sent = 0
  math.randomseed(os.time() * 1000 + thread_number)
  failed = 0
end

function request()
  sent = sent + 1
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
  if idempotent then
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", thread_number, sent, math.random(1, 2147483647))
  end
  return wrk.format("POST", nil, headers, bodies[(sent % #bodies) + 1])
end

function response(status, headers, body)
  if status ~= 200 and status ~= 201 then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local unexpected = 0
  for _, thread in ipairs(threads) do
    unexpected = unexpected + thread:get("failed")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "socket_errors": %d, "unexpected_status": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    errors.connect + errors.read + errors.write + errors.timeout, unexpected))
end
