-- The request patterns of scripts/bench/run_bench.py, for wrk (Debian package `wrk`).
--
--   wrk -t T -c T ... -s wrk_requests.lua URL -- step IDS_FILE T [NUM_ENVS [msgpack]]
--   wrk -t T -c T ... -s wrk_requests.lua URL -- get PATH
--
-- step: POST /v1/envs/<id>/step/ with {"action": 0}, or with a list of NUM_ENVS zeros for a
--       vector instance. IDS_FILE holds one instance id a line. wrk thread k (1-based) takes the
--       ids k, k+T, k+2T, ... of the file and each of its requests takes the next of them, in a
--       cycle. A fifth argument `msgpack` asks for MessagePack answers (Accept header). With -t equal to -c every thread has one connection, so no instance is ever
--       stepped by two connections, and a file of T ids gives each connection its own instance.
-- get:  GET PATH (a static file of a reference server).
--
-- Every pattern goes through request() (a Lua call per request), so the client does the same
-- work whatever is measured. Answers are not inspected (no response() callback, which would slow
-- wrk down); run_bench.py checks a step answer of every instance before the run, and wrk counts
-- any answer that is not 2xx/3xx in errors.status.
--
-- done() prints one line that run_bench.py reads:
--   RESULT requests=N duration_us=N p50_us=N p99_us=N connect=N read=N write=N status=N timeout=N

local threads_seen = 0

function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("thread_index", threads_seen)
end

local function fail(message)
  io.stderr:write("wrk_requests.lua: " .. message .. "\n")
  os.exit(2)
end

function init(args)
  local mode = args[1]
  prepared = {}
  if mode == "get" then
    if not args[2] then fail("get needs a PATH") end
    prepared[1] = wrk.format("GET", args[2])
  elseif mode == "step" then
    local ids_file, threads, num_envs = args[2], tonumber(args[3]), args[4]
    if not ids_file or not threads or threads < 1 then fail("step needs IDS_FILE THREADS [NUM_ENVS]") end
    local ids = {}
    local handle = io.open(ids_file, "r")
    if not handle then fail("cannot read " .. ids_file) end
    for line in handle:lines() do
      if line ~= "" then ids[#ids + 1] = line end
    end
    handle:close()
    local action = "0"
    if num_envs then
      local n = tonumber(num_envs)
      if not n or n < 1 then fail("NUM_ENVS must be a positive integer, got " .. num_envs) end
      local zeros = {}
      for i = 1, n do zeros[i] = "0" end
      action = "[" .. table.concat(zeros, ", ") .. "]"
    end
    local body = '{"action": ' .. action .. '}'
    local headers = { ["Content-Type"] = "application/json" }
    if args[5] == "msgpack" then headers["Accept"] = "application/msgpack" end
    for k = thread_index, #ids, threads do
      prepared[#prepared + 1] = wrk.format("POST", "/v1/envs/" .. ids[k] .. "/step/", headers, body)
    end
    if #prepared == 0 then
      fail("thread " .. thread_index .. " has no instance id (" .. #ids .. " ids for " .. threads .. " threads)")
    end
  else
    fail("the first argument is step or get, got " .. tostring(mode))
  end
  next_index = 0
  prepared_count = #prepared
end

function request()
  next_index = next_index % prepared_count + 1
  return prepared[next_index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
