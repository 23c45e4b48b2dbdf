-- Prepare authorization codes: GET /authorize with a logged-in session cookie, whose
-- answer is a redirect (303) to the redirect URI with a fresh code; each code is appended to
-- BENCH_CODES_FILE. Set by run.py: BENCH_COOKIE, BENCH_CODES_FILE.
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
local out = io.open(os.getenv("BENCH_CODES_FILE"), "a")
out:setvbuf("line")

function response(status, headers, body)
  local location = headers["Location"] or headers["location"]
  if (status == 302 or status == 303) and location then
    local code = location:match("[?&]code=([^&]+)")
    if code then out:write(code, "\n") end
  end
end
