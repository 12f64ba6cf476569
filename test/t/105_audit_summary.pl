# provsecret.audit_level = summary: SQL reveals are counted per secret,
# principal and minute in shared memory and written as secret.resolved
# events with a count; a clean restart loses none of them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_summary', 6,
	'provsecret.audit_summary_interval' => "'1h'");
my $a = 'managed:project/p1/summary_a';
my $b = 'managed:project/p1/summary_b';
seal_secret($node, $_) for ($a, $b);
$node->safe_psql('postgres', q(
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
SELECT provsecret.grant('db:alice', 'project/p1', ARRAY['read']);
SELECT provsecret.grant('db:bob', 'project/p1', ARRAY['read']);));

sub reveal_as
{
	my ($role, $reference, $n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(*) FROM (" . reveal_sql($reference) . " FROM generate_series(1, $n)) r",
		connstr => $node->connstr('postgres') . " user=$role");
}

# Non-superusers cannot change the level.
my ($rc, $out, $err) = $node->psql('postgres', "SET provsecret.audit_level = summary",
	connstr => $node->connstr('postgres') . ' user=alice');
like($err, qr/permission denied/, 'audit_level is superuser-only');

$node->safe_psql('postgres',
	"ALTER SYSTEM SET provsecret.audit_level = summary; SELECT pg_reload_conf();");
$node->poll_query_until('postgres',
	"SELECT audit_level = 'summary' FROM provsecret.audit_worker_status")
  or die 'reload not seen';

reveal_as('alice', $a, 250);
reveal_as('bob', $a, 40);
reveal_as('alice', $b, 7);
is(events_for($node, $a, 'secret.revealed'), '0', 'no individual events in summary mode');

# A counter keeps short strings only: a reference of 256 bytes or more is
# recorded event by event instead, and nothing is lost or merged.
my $long_project = 'q' x 128;
my $long = "managed:project/$long_project/" . ('n' x 128);
seal_secret($node, $long);
$node->safe_psql('postgres',
	"SELECT provsecret.grant('db:alice', 'project/$long_project', ARRAY['read'])");
reveal_as('alice', $long, 3);
is(events_for($node, $long, 'secret.revealed'), '3',
	'a reveal too long for a counter is its own event');
cmp_ok($node->safe_psql('postgres', 'SELECT summary_counters FROM provsecret.audit_worker_status'),
	'>=', 3, 'counters held in shared memory');

# Clean restart: the worker flushes every counter before it exits.
audit_restart($node);
is( $node->safe_psql('postgres', qq(
SELECT principal, reference, sum(count) FROM provsecret.audit_log
 WHERE action = 'secret.resolved' GROUP BY 1, 2 ORDER BY 1, 2)),
	"db:alice|$a|250\ndb:alice|$b|7\ndb:bob|$a|40",
	'summary counts exact per secret and principal after a clean restart');
is( $node->safe_psql('postgres', qq(
SELECT bool_and(date_trunc('minute', at) = at AND channel = 'sql' AND outcome = 'ok')
  FROM provsecret.audit_log WHERE action = 'secret.resolved')),
	't', 'summary rows are per minute, channel sql, outcome ok');

is( $node->safe_psql('postgres',
		"SELECT reveal_count, last_revealed_at IS NOT NULL FROM provsecret.secret_reveals WHERE reference = '$a'"),
	'290|t', 'secret_reveals counts summarized reveals');

# Denials stay individual.
($rc, $out, $err) = $node->psql('postgres', reveal_sql($a),
	connstr => $node->connstr('postgres') . ' user=carol');
like($err, qr/permission denied/, 'carol may not read');
is(events_for($node, $a, 'access.denied'), '1', 'denials stay individual in summary mode');

# Counters are written at the interval too, without a restart.
$node->safe_psql('postgres',
	"ALTER SYSTEM SET provsecret.audit_summary_interval = '200ms'; SELECT pg_reload_conf();");
reveal_as('alice', $b, 5);
$node->poll_query_until('postgres', qq(
SELECT sum(count) = 12 FROM provsecret.audit_log
 WHERE action = 'secret.resolved' AND reference = '$b'))
  or die 'interval flush not seen';
pass('counters flushed at provsecret.audit_summary_interval');

# Back to all: individual events again.
$node->safe_psql('postgres',
	"ALTER SYSTEM SET provsecret.audit_level = 'all'; SELECT pg_reload_conf();");
$node->poll_query_until('postgres',
	"SELECT audit_level = 'all' FROM provsecret.audit_worker_status")
  or die 'reload not seen';
reveal_as('alice', $a, 3);
is(events_for($node, $a, 'secret.revealed'), '3', 'audit_level = all records each reveal');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'summary rows are part of the verified chain');

# A session's own principal is kept between reveals, but follows a rename
# of its role made by another session.
$node->safe_psql('postgres', 'CREATE ROLE dave LOGIN IN ROLE provsecret_admin');
my $dave = $node->background_psql('postgres', extra_params => [ '-U', 'dave' ]);
my $reveal_quietly = 'SELECT count(*) FROM (' . reveal_sql($b) . ') r';
$dave->query_safe($reveal_quietly);
$node->safe_psql('postgres', 'ALTER ROLE dave RENAME TO david');
$dave->query_safe($reveal_quietly);
$dave->quit;
is( $node->safe_psql('postgres', qq(
SELECT string_agg(principal, ',' ORDER BY id) FROM provsecret.audit_log
 WHERE action = 'secret.revealed' AND principal IN ('db:dave', 'db:david'))),
	'db:dave,db:david', 'the audit principal follows a rename of the role');

# A session over TCP: every reveal carries its address (worked out once
# per session, so the second reveal reuses it).
$node->append_conf('postgresql.conf', "listen_addresses = '127.0.0.1'");
audit_restart($node);
$node->safe_psql('postgres', join(';', ($reveal_quietly) x 2),
	connstr => 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres');
is( $node->safe_psql('postgres', qq(
SELECT string_agg(host(client_addr), ',') FROM (
  SELECT client_addr FROM provsecret.audit_log
   WHERE action = 'secret.revealed' AND reference = '$b'
   ORDER BY id DESC LIMIT 2) r)),
	'127.0.0.1,127.0.0.1', 'reveals over TCP record the session\'s address');

# A small table (64 counters): 300 secrets revealed twice each, with the
# worker draining as the table fills and reveals that find it full
# recorded one by one.  After a clean restart every secret has exactly its
# two reveals, and no two secrets' counts were merged.
$node->append_conf('postgresql.conf', 'provsecret.audit_summary_entries = 64');
audit_restart($node);
$node->safe_psql('postgres', q{
ALTER SYSTEM SET provsecret.audit_level = summary;
ALTER SYSTEM SET provsecret.audit_summary_interval = '1h';
SELECT pg_reload_conf();});
$node->poll_query_until('postgres',
	"SELECT audit_level = 'summary' FROM provsecret.audit_worker_status")
  or die 'reload not seen';
$node->safe_psql('postgres', q{
SELECT count(provsecret.seal('managed:project/p1/full_' || g, 'full-value'))
  FROM generate_series(1, 300) g});
$node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT provsecret.resolve('managed:project/p1/full_' || (g % 300 + 1))
  FROM generate_series(0, 599) g) r},
	connstr => $node->connstr('postgres') . ' user=alice');
audit_restart($node);
is( $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE reveals = 2), count(*) FROM (
  SELECT reference, sum(count) AS reveals FROM provsecret.audit_log
   WHERE action IN ('secret.resolved', 'secret.revealed')
     AND reference LIKE 'managed:project/p1/full\_%'
   GROUP BY reference) r}),
	'300|300', 'a full counter table: every reveal counted once, none merged');
cmp_ok( $node->safe_psql('postgres', q{
SELECT count(*) FROM provsecret.audit_log
 WHERE action = 'secret.resolved' AND reference LIKE 'managed:project/p1/full\_%'}),
	'>', 0, 'and counters took part');

# One write larger than the worker's insert chunk (512 rows): 1,300
# counters written at a clean restart, each once, the chain intact and
# gapless across the chunks.
$node->append_conf('postgresql.conf', 'provsecret.audit_summary_entries = 4096');
audit_restart($node);
$node->safe_psql('postgres', q{
SELECT count(provsecret.seal('managed:project/p1/chunk_' || g, 'chunk-value'))
  FROM generate_series(1, 1300) g});
my $seq_before = $node->safe_psql('postgres',
	'SELECT coalesce(max(chain_seq), 0) FROM provsecret.audit_event');
$node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT provsecret.resolve('managed:project/p1/chunk_' || g)
  FROM generate_series(1, 1300) g) r},
	connstr => $node->connstr('postgres') . ' user=alice');
audit_restart($node);
is( $node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT reference), sum(count) FROM provsecret.audit_log
 WHERE action = 'secret.resolved' AND reference LIKE 'managed:project/p1/chunk\_%'}),
	'1300|1300|1300', 'a write of 1,300 counters: every one in the table, once');
is( $node->safe_psql('postgres', qq{
SELECT count(*) = max(chain_seq) - $seq_before
  FROM provsecret.audit_event WHERE chain_seq > $seq_before}),
	't', 'chain positions gapless across the chunks');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies across the chunks');

$node->stop;
done_testing();
