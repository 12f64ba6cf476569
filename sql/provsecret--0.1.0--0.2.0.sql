-- provsecret 0.1.0 -> 0.2.0
\echo Use "ALTER EXTENSION provsecret UPDATE TO '0.2.0'" to load this file. \quit

-- Audit rows are looked up by exact reference only: byte order (C) is
-- enough and much cheaper to maintain than the database collation.
DROP INDEX audit_event_reference_idx;
CREATE INDEX audit_event_reference_idx ON audit_event (reference COLLATE "C", at);

-- ... and compared in byte order, so the index above serves the view.
CREATE OR REPLACE VIEW secret_reveals AS
    SELECT s.reference, s.company, s.project, r.last_revealed_at,
           COALESCE(r.reveal_count, 0) AS reveal_count
      FROM provsecret.ai_provider_secret s
      LEFT JOIN LATERAL (
            SELECT pg_catalog.max(e.at) AS last_revealed_at,
                   pg_catalog.sum(e.count)::bigint AS reveal_count
              FROM provsecret.audit_event e
             WHERE e.reference OPERATOR(pg_catalog.=) s.reference COLLATE "C"
               AND e.action IN ('secret.revealed', 'secret.resolved')
               AND e.outcome OPERATOR(pg_catalog.=) 'ok') r ON true;
