-- provsecret.authenticate: for the lead to splice into sql/provsecret--0.1.0.sql
-- with the other API functions.  The GRANT must come after the
-- "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA provsecret FROM PUBLIC" line (or
-- authenticate(text) can join that block's GRANT EXECUTE ... TO PUBLIC list).
CREATE FUNCTION authenticate(bearer_token text)
RETURNS text
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'ps_authenticate';
COMMENT ON FUNCTION authenticate(text) IS
  'verify a Keycloak access token exactly as the REST API does (JWKS signature, iss, aud or azp, exp, nbf, typ); its principals (user:, client:, role:, group:) apply for the rest of the transaction; returns the subject; a rejected token raises 28000';

-- after the REVOKE:
GRANT EXECUTE ON FUNCTION authenticate(text) TO PUBLIC;
