-- wrk script for POST scenarios: every request sends the same body.
-- The body size comes from BENCH_BODY_SIZE (bytes, default 10240) so one script
-- serves every POST scenario; bench/scenarios.py sets it.
local size = tonumber(os.getenv("BENCH_BODY_SIZE") or "10240")

wrk.method = "POST"
wrk.body = string.rep("x", size)
wrk.headers["Content-Type"] = "application/octet-stream"
