-- wrk script: every request creates a license for a new account, with its
-- own idempotency key (a new payment), as a billing system's webhooks do.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  token = os.getenv("ISSUER_API_TOKEN")
end

function request()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  local body = string.format(
    '{"product":"data-platform","account":"acct-bench-%d","licensee":"Bench %d","region":"cn-hangzhou",' ..
    '"edition":"intelligent_rnd","engine":"maxcompute","plan":"subscription",' ..
    '"packages":{"data_service":"api.s1.small"},"quotas":{"processing_units":40}}', n, n)
  return wrk.format("POST", "/v1/licenses", {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "pay-bench-" .. n,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
  end
end
