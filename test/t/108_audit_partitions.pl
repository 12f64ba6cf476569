# Audit at scale (DESIGN §10): one hash chain per company, each verified on
# its own; audit_event partitioned by month with partitions created ahead by
# the audit worker; retention by whole partitions behind a checkpoint per
# chain; incremental verification; the move of the single chain of 0.4.0
# into per-company chains by the 0.5.0 update.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_partitions', 18);
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{SELECT provsecret.register_project('pa', 'acme');
      SELECT provsecret.register_project('pg', 'globex');});
seal_secret($node, 'managed:project/pa/K');
seal_secret($node, 'managed:project/pg/K');
sql(reveal_sql('managed:project/pa/K')) for 1 .. 3;
sql(reveal_sql('managed:project/pg/K')) for 1 .. 2;

# One chain per company, each gapless from 1.
is(sql(q{SELECT string_agg(coalesce(company, '(global)') || ':' || ok || ':' || checked, ',' ORDER BY company)
           FROM provsecret.verify_audit_chain() WHERE company IS NOT NULL}),
	'acme:true:5,globex:true:4', 'verify_audit_chain() has a row per company: acme 5 events (registration, seal, 3 reveals), globex 4');
is(sql(q{SELECT string_agg(company || ':' || min || '-' || max || ':' || n, ',' ORDER BY company)
           FROM (SELECT company, min(chain_seq), max(chain_seq), count(*) AS n
                   FROM provsecret.audit_event WHERE company IS NOT NULL GROUP BY company) c}),
	'acme:1-5:5,globex:1-4:4', 'each company chain is numbered on its own');
is(sql(q{SELECT string_agg(chain || ':' || chain_seq, ',' ORDER BY chain)
           FROM provsecret.audit_chain_head WHERE chain <> ''}),
	'acme:5,globex:4', "the heads table holds each chain's newest position");
is(sql(q{SELECT company || '|' || ok || '|' || checked FROM provsecret.verify_audit_chain('acme')}),
	'acme|true|5', 'verify_audit_chain(company) verifies that chain alone');
is(sql(q{SELECT count(*) FROM provsecret.verify_audit_chain('nobody-here')}),
	'1', 'a company without events still gets its row');

# Tampering in one company's chain is reported for that company only.
my $tampered = sql(q{
BEGIN;
ALTER TABLE provsecret.audit_event DISABLE TRIGGER audit_event_append_only;
UPDATE provsecret.audit_event SET principal = 'db:mallory'
 WHERE company = 'acme' AND chain_seq = 2;
SELECT string_agg(coalesce(company, '(global)') || ':' || ok, ',' ORDER BY company)
  FROM provsecret.verify_audit_chain();
ROLLBACK;});
like($tampered, qr/acme:false/, 'the edited acme chain fails');
like($tampered, qr/globex:true/, 'the globex chain still verifies');
unlike($tampered, qr/\(global\):false/, 'the global chain still verifies');
my $bad_id = sql(q{SELECT id FROM provsecret.audit_event WHERE company = 'acme' AND chain_seq = 2});
like(sql(qq{
BEGIN;
ALTER TABLE provsecret.audit_event DISABLE TRIGGER audit_event_append_only;
DELETE FROM provsecret.audit_event WHERE company = 'globex' AND chain_seq = 3;
SELECT ok || '|' || coalesce(first_bad_id::text, '') FROM provsecret.verify_audit_chain('globex');
ROLLBACK;}), qr/^false\|\d+$/, 'the newest globex event removed: caught by the chain head');

# Partitions: this month and the next two exist, created by the worker,
# each with the write guard and the append-only trigger, none a member of
# the extension; no default partition.
my $months = sql(q{
SELECT string_agg(to_char(m, '"audit_event_"YYYY_MM'), ',' ORDER BY m)
  FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                       date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
                       interval '1 month') m});
my $parts = sql(q{
SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'provsecret.audit_event'::regclass});
is($parts, $months, 'partitions of this month and the next two, created ahead');
is(sql(q{SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'provsecret.audit_event'::regclass
            AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'}), '0', 'no default partition');
is(sql(q{
SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'provsecret.audit_event'::regclass
   AND EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'write_guard' AND g.tgenabled = 'A')
   AND EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'audit_event_append_only' AND g.tgenabled = 'A')
   AND c.relrowsecurity AND c.relforcerowsecurity
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')}),
	'3', 'every partition carries both triggers and row-level security, and is no member of the extension');
my $current = (split /,/, $months)[0];
my ($rc, $out, $err) = $node->psql('postgres', "DELETE FROM provsecret.$current",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/42501.*append-only/s, 'a partition refuses DELETE, superuser included');
($rc, $out, $err) = $node->psql('postgres', "TRUNCATE provsecret.$current",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/42501.*append-only/s, 'and TRUNCATE');

sql(q{CREATE ROLE readall LOGIN IN ROLE pg_read_all_data});
is($node->safe_psql('postgres', "SELECT count(*) FROM provsecret.$current",
		connstr => $node->connstr('postgres') . ' user=readall'), '0',
	'pg_read_all_data reading a partition directly sees no event (row-level security as on audit_event)');

# Events of a month long gone (as audit_pending holds them after a restore
# or a long transaction): the worker creates their month's partition.
sql(q{
INSERT INTO provsecret.audit_pending (at, action, reference, company, project, principal, channel, outcome)
SELECT now() - interval '400 days' + g * interval '1 second', 'secret.revealed',
       'managed:project/' || p || '/K', c, p, 'db:old', 'sql', 'ok'
  FROM generate_series(1, 2) g, (VALUES ('pa', 'acme'), ('pg', 'globex')) t(p, c);});
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM provsecret.audit_pending')
  or die 'old events not chained';
my $old = sql(q{SELECT to_char(now() - interval '400 days', '"audit_event_"YYYY_MM')});
is(sql("SELECT count(*) FROM provsecret.$old"), '4', "the old events are in $old");
is(sql($VERIFY), 't|' . sql('SELECT count(*) FROM provsecret.audit_event') . '|',
	'every chain verifies');

# Retention drops the old partition; a checkpoint per chain keeps each
# chain verifiable (its older events, written earlier, stay).
is(sql(q{SELECT provsecret.audit_retain('300 days')}), '4', 'audit_retain dropped 4 events');
is(sql("SELECT to_regclass('provsecret.$old') IS NULL"), 't', 'by dropping their partition');
is(sql(q{SELECT string_agg(chain || ':' || through_seq || ':' || dropped || ':' || kept_before, ',' ORDER BY chain)
           FROM provsecret.audit_checkpoint WHERE chain IN ('acme', 'globex')}),
	'acme:7:2:5,globex:6:2:4', 'a checkpoint per chain: cut, dropped, older events kept');
$node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM provsecret.audit_event WHERE action = 'audit.retained'})
  or die 'audit.retained not chained';
is(sql(q{SELECT bool_and(ok) FROM provsecret.verify_audit_chain()}), 't',
	'every chain verifies after retention');
sql(reveal_sql('managed:project/pa/K'));
is(sql(q{SELECT ok || '|' || checked FROM provsecret.verify_audit_chain('acme')}), 'true|6',
	'and acme continues after its cut (5 kept + 1 new)');
like(sql(q{
BEGIN;
ALTER TABLE provsecret.audit_event DISABLE TRIGGER audit_event_append_only;
DELETE FROM provsecret.audit_event WHERE company = 'acme' AND chain_seq = 1;
SELECT ok FROM provsecret.verify_audit_chain('acme');
ROLLBACK;}), qr/^f$/m, 'an event kept before the cut and then removed is caught (count in the checkpoint)');
is(sql(q{SELECT provsecret.audit_retain('300 days')}), '0', 'a second run finds nothing to drop');

# Incremental verification resumes where each chain was last verified.
sql(q{SELECT count(*) FROM provsecret.verify_audit_chain()});
is(sql(q{SELECT count(*) FROM provsecret.verify_audit_chain(true)}), '0',
	'nothing new: the incremental run has no chain to walk');
sql(reveal_sql('managed:project/pg/K'));
is(sql(q{SELECT company || '|' || ok || '|' || checked FROM provsecret.verify_audit_chain(true)}),
	'globex|true|1', 'one new globex event: only it is walked');
is(sql(q{
BEGIN;
ALTER TABLE provsecret.audit_event DISABLE TRIGGER audit_event_append_only;
UPDATE provsecret.audit_event SET principal = 'db:mallory' WHERE company = 'acme' AND chain_seq = 3;
SELECT string_agg(x, ',') FROM (
  SELECT 'incremental:' || count(*) AS x FROM provsecret.verify_audit_chain(true)
  UNION ALL SELECT 'full:' || ok FROM provsecret.verify_audit_chain('acme')) s;
ROLLBACK;}), 'incremental:0,full:false',
	'an edit before the verified point: the incremental run does not read it, a full run reports it');
like(sql(q{
BEGIN;
UPDATE provsecret.audit_chain_verified SET chain_seq = chain_seq + 1 WHERE chain = 'acme';
SELECT company || '|' || ok FROM provsecret.verify_audit_chain(true) WHERE company = 'acme';
ROLLBACK;}), qr/^acme\|false$/, 'a forged verified point is reported');

# Who may verify and retain.
sql(q{CREATE ROLE aud LOGIN IN ROLE provsecret_auditor; CREATE ROLE nob LOGIN;});
is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM provsecret.verify_audit_chain(true)},
		connstr => $node->connstr('postgres') . ' user=aud'), 'f',
	'provsecret_auditor may verify incrementally');
($rc, $out, $err) = $node->psql('postgres', q{SELECT * FROM provsecret.verify_audit_chain('acme')},
	connstr => $node->connstr('postgres') . ' user=nob');
like($err, qr/permission denied/, 'a role without audit rights may not verify a company');
($rc, $out, $err) = $node->psql('postgres', q{SELECT provsecret.audit_retain('1 day')},
	connstr => $node->connstr('postgres') . ' user=aud');
like($err, qr/permission denied/, 'nor may an auditor drop partitions');
($rc, $out, $err) = $node->psql('postgres', q{SELECT * FROM provsecret.audit_chain_verified},
	connstr => $node->connstr('postgres') . ' user=aud');
like($err, qr/permission denied/, 'the chain tables are not readable by the auditor');

# The update from the single chain of 0.4.0: every event kept, in
# the same id order with the same fields, re-chained per company, and the
# link to the old chain recorded.
sql(q{DROP EXTENSION provsecret CASCADE; CREATE EXTENSION provsecret VERSION '0.4.0';
      SELECT provsecret.register_project('pa', 'acme');
      SELECT provsecret.register_project('pg', 'globex');});
seal_secret($node, 'managed:project/pa/K');
seal_secret($node, 'managed:project/pg/K');
sql(reveal_sql('managed:project/pa/K')) for 1 .. 2;
sql(reveal_sql('managed:project/pg/K'));
my $events_sql = q{SELECT string_agg(id || ':' || action || ':' || coalesce(company, '-') || ':' || at, ',' ORDER BY id)
                     FROM provsecret.audit_event};
my $before = sql($events_sql);
my $old_head = sql(q{SELECT chain_seq || ':' || encode(hash, 'hex') FROM provsecret.audit_event
                      ORDER BY chain_seq DESC LIMIT 1});
sql(q{ALTER EXTENSION provsecret UPDATE TO '0.5.0'});
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'provsecret'}), '0.5.0', 'updated to 0.5.0');
is(sql($events_sql . q{ WHERE action <> 'audit.rechained'}), $before,
	'every event kept with its id, action, company and time, in the same order');
is(sql(q{SELECT bool_and(ok) FROM provsecret.verify_audit_chain()}), 't',
	'every chain verifies across the update');
is(sql(q{SELECT string_agg(company || ':' || checked, ',' ORDER BY company)
           FROM provsecret.verify_audit_chain() WHERE company IS NOT NULL}),
	'acme:4,globex:3', 'the events now form one chain per company');
my ($seq, $hash) = split /:/, $old_head;
like(sql(q{SELECT detail FROM provsecret.audit_event WHERE action = 'audit.rechained'}),
	qr/ended at position $seq with hash $hash and verified/,
	"audit.rechained names the old chain's final position and hash");
is(sql(qq{SELECT count(*) FROM provsecret.audit_checkpoint
           WHERE through_seq = 0 AND last_hash = '\\x$hash' AND chain IN ('acme', 'globex', '')}),
	'3', "every new chain hangs from the old chain's final hash (a MAC-ed checkpoint each)");
like(sql(q{
BEGIN;
ALTER TABLE provsecret.audit_checkpoint DISABLE TRIGGER audit_checkpoint_append_only;
UPDATE provsecret.audit_checkpoint SET last_hash = '\x00' || substr(last_hash, 2) WHERE chain = 'acme';
SELECT ok FROM provsecret.verify_audit_chain('acme');
ROLLBACK;}), qr/^f$/m, 'a changed link to the old chain is detected');
sql(reveal_sql('managed:project/pa/K'));
is(sql(q{SELECT ok || '|' || checked FROM provsecret.verify_audit_chain('acme')}), 'true|5',
	'the worker continues the acme chain after the update');

$node->stop;
done_testing();
