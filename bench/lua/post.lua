-- POST a fixed form body with fixed headers. Set by run.py through environment:
-- BENCH_BODY (form body), BENCH_AUTH (Authorization header value, optional).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
