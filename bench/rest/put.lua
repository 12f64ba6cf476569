-- wrk script: PUT a new value to one of 100 keys per request, in the
-- workspace given after "--" (default bench-ws; run.sh uses its own so the
-- listing it measures keeps the same 20 keys in every round)
local n = 0
local ws = "bench-ws"
init = function(args)
  if args[1] then ws = args[1] end
end
request = function()
  n = n + 1
  return wrk.format("PUT", "/v1/workspaces/" .. ws .. "/secrets/KEY_" .. (n % 100),
    { ["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = "application/json" },
    '{"value":"sk-bench-' .. n .. '","description":"bench"}')
end
