-- wrk script for pipelined scenarios: each write sends BENCH_PIPELINE (default 16)
-- copies of the URL's GET back to back on one connection, as TechEmpower's plaintext
-- test does; wrk counts every response, so req/s is responses per second.
local depth = tonumber(os.getenv("BENCH_PIPELINE") or "16")

init = function(args)
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format()
  end
  pipelined = table.concat(batch)
end

request = function()
  return pipelined
end
