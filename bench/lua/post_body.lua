-- wrk script for POST scenarios with a fixed body: every request sends BENCH_BODY with
-- the Content-Type BENCH_CONTENT_TYPE (default application/json); bench/scenarios.py
-- sets both, and verifies the same body before measuring.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
