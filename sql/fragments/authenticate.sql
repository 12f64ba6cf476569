-- provsecret.authenticate: splice into sql/provsecret--0.1.0.sql (lead).
CREATE FUNCTION provsecret.authenticate(bearer_token text)
RETURNS text
LANGUAGE C
VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'provsecret_authenticate';

COMMENT ON FUNCTION provsecret.authenticate(text) IS
'Verify a Keycloak access token exactly as the REST API does (signature from the JWKS, iss, aud or azp, exp, nbf, typ) and apply its principals (user:, client:, role:, group:) for the rest of the transaction; returns the subject. Rejected tokens raise SQLSTATE 28000.';
