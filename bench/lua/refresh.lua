-- Refresh-token rotation as clients do it: each request presents a refresh token and
-- the answer's new refresh token goes back in the pool, so every token is used once.
-- run.py prepares more starting tokens than there are connections, in
-- BENCH_REFRESH_FILE. Also BENCH_AUTH.
local pool = {}
for line in io.lines(os.getenv("BENCH_REFRESH_FILE")) do pool[#pool + 1] = line end
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = os.getenv("BENCH_AUTH"),
}

function request()
  local token = table.remove(pool)
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. (token or "exhausted"))
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then pool[#pool + 1] = token end
end
