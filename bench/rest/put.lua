-- wrk script: PUT a new value to one of 100 keys per request
local n = 0
request = function()
  n = n + 1
  return wrk.format("PUT", "/v1/workspaces/bench-ws/secrets/KEY_" .. (n % 100),
    { ["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = "application/json" },
    '{"value":"sk-bench-' .. n .. '","description":"bench"}')
end
