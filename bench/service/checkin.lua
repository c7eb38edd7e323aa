-- wrk script: POST /v1/collectors/{id}/checkin from 10,000 distinct
-- collectors, cycling (each thread takes its own slice of ids).
-- Usage: TOKEN=lst1_… wrk -t2 -c64 -d20s --latency -s checkin.lua http://127.0.0.1:PORT
local counter = 0
local thread_no = 0
local threads = {}
function setup(thread)
  thread:set("id", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end
function init(args)
  token = os.getenv("TOKEN")
end
function request()
  counter = counter + 1
  local n = (id * 5000 + counter % 5000)
  return wrk.format("POST", "/v1/collectors/dk-" .. n .. "/checkin",
    { ["Authorization"] = "Bearer " .. token, ["Content-Length"] = "0" }, "")
end
