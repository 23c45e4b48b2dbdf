-- The authorization code exchange: each request redeems the next code prepared by
-- codes.lua. Set by run.py: BENCH_CODES_FILE, BENCH_BODY (the form without the code),
-- BENCH_AUTH. A request past the last prepared code reuses it and fails (counted
-- as non-2xx), so running out shows in the table instead of passing unnoticed.
local codes = {}
for line in io.lines(os.getenv("BENCH_CODES_FILE")) do codes[#codes + 1] = line end
local next_code = 1
local body = os.getenv("BENCH_BODY")
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = os.getenv("BENCH_AUTH"),
}

function request()
  local code = codes[math.min(next_code, #codes)]
  next_code = next_code + 1
  return wrk.format("POST", nil, headers, body .. "&code=" .. code)
end
