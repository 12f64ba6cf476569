-- wrk script: every request built per call (the same client cost for both
-- list peers), with the method given after "--" (GET or LIST).
--
-- wrk checks the first request it builds with http_parser, which knows no
-- LIST method (script_verify_request: "invalid HTTP method"), so that one
-- check is answered with GET ...?list=true, the same route in the server
-- (vault_parse.c); every request wrk then sends is Vault's LIST.
local method = "GET"
local checked = false

function init(args)
  method = args[1] or "GET"
end

function request()
  if method == "LIST" and not checked then
    checked = true
    return wrk.format("GET", wrk.path .. "?list=true")
  end
  return wrk.format(method, wrk.path)
end
