-- wrk script: GET /v1/check with a launcher token, keep-alive.
-- Usage: TOKEN=lst1_… wrk -t2 -c32 -d20s --latency -s check.lua "http://127.0.0.1:PORT/v1/check?package=data_service&tier=api.base"
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
end
