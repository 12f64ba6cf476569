-- provsecret 0.3.0 -> 0.4.0: the authorization and secrecy model closed by
-- construction (project attachment, env: grants, bindings across targets,
-- write guard on every table, resolver-token audit, outbound allowlist).
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.4.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Tenancy: attaching an existing project, bindings across targets
------------------------------------------------------------------------------
--
--
--
--

------------------------------------------------------------------------------
-- env: references need a grant on env/<NAME>
------------------------------------------------------------------------------
--
--
--
--

------------------------------------------------------------------------------
-- Write guard on every table of the extension
------------------------------------------------------------------------------
--
--
--
--

------------------------------------------------------------------------------
-- Resolver tokens and outbound calls
------------------------------------------------------------------------------
--
--
--
--
