# A reveal's audit event is committed independently of the caller: it
# survives ROLLBACK and a kill -9 of the revealing backend.  Events of the
# caller's own changes follow the caller's transaction.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_durable', 6);

# Reveal inside BEGIN ... ROLLBACK.
my $ref = 'managed:project/p1/rolled_back';
seal_secret($node, $_) for map { "managed:project/p1/$_" }
  qw(rolled_back failed_tx killed_backend);
my $value = $node->safe_psql('postgres',
	"BEGIN; " . reveal_sql($ref) . "; ROLLBACK;");
is($value, 'value', 'reveal inside a rolled-back transaction returned the value');
is(events_for($node, $ref, 'secret.revealed'), '1',
	'its secret.revealed event survived the ROLLBACK');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_event WHERE reference = '$ref' AND action = 'secret.revealed'"),
	'1',
	'the reveal event is already chained when the value returns');

# A reveal in a transaction that then fails.
$ref = 'managed:project/p1/failed_tx';
my ($rc, $out, $err) = $node->psql('postgres',
	"BEGIN; " . reveal_sql($ref) . "; SELECT 1/0; COMMIT;");
is(events_for($node, $ref, 'secret.revealed'), '1',
	'reveal event survives a transaction aborted by an error');

# Transactional events (seal): only what committed.
my $sealed_rb = 'managed:project/p1/seal_rolled_back';
my $sealed_ok = 'managed:project/p1/seal_committed';
$node->safe_psql('postgres', "BEGIN; " . seal_sql($sealed_rb) . "; ROLLBACK;");
$node->safe_psql('postgres', seal_sql($sealed_ok));
is( $node->safe_psql('postgres',
		"BEGIN; " . seal_sql('managed:project/p1/own_tx') . ";"
		  . " SELECT count(*) FROM provsecret.audit_log WHERE reference = 'managed:project/p1/own_tx'; ROLLBACK;"),
	"managed:project/p1/own_tx\n1",
	'a transaction sees its own change event before it commits');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM provsecret.audit_pending")
  or die "pending events not chained";
is(events_for($node, $sealed_ok, 'secret.sealed'), '1', 'committed seal has its event');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_event WHERE reference = '$sealed_ok' AND action = 'secret.sealed'"),
	'1',
	'committed seal event is chained by the worker');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_log WHERE reference IN ('$sealed_rb', 'managed:project/p1/own_tx')"),
	'0',
	'rolled-back seals leave no event');

# kill -9 of the revealing backend right after the value came back.
$ref = 'managed:project/p1/killed_backend';
my $session = $node->background_psql('postgres');
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_safe('BEGIN');
is($session->query_safe(reveal_sql($ref)), 'value', 'reveal returned in the doomed session');
kill 'KILL', $pid;
$session->{run}->kill_kill;    # the session is gone with the server's crash
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die "server did not come back after the crash";
wait_for_worker($node);
is(events_for($node, $ref, 'secret.revealed'), '1',
	'reveal event survived kill -9 of the revealing backend');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'chain verifies after the crash');

# Per-secret reveal statistics.
is( $node->safe_psql('postgres',
		"SELECT reveal_count, last_revealed_at = (SELECT max(at) FROM provsecret.audit_log "
		  . "WHERE reference = s.reference AND action = 'secret.revealed') "
		  . "FROM provsecret.secret_reveals s WHERE reference = 'managed:project/p1/rolled_back'"),
	'1|t', 'secret_reveals shows reveal count and last reveal');
is( $node->safe_psql('postgres',
		"SELECT reveal_count, last_revealed_at IS NULL FROM provsecret.secret_reveals WHERE reference = '$sealed_ok'"),
	'0|t', 'a secret never revealed shows 0 and no last reveal');

# Inside one transaction, events read in the order things happened,
# transactional and durable ones alike.
is( $node->safe_psql('postgres', q{
BEGIN;
SELECT provsecret.seal('managed:project/p1/ordered', 'v1');
SELECT provsecret.seal('managed:project/p1/ordered', 'v2');
SELECT provsecret.resolve('managed:project/p1/ordered');
SELECT provsecret.delete_secret('managed:project/p1/ordered');
SELECT string_agg(action, ',' ORDER BY id) FROM provsecret.audit_log
 WHERE reference = 'managed:project/p1/ordered';
COMMIT;}),
	"managed:project/p1/ordered\nmanaged:project/p1/ordered\nv2\nt\n"
	  . 'secret.sealed,secret.rotated,secret.revealed,secret.deleted',
	'audit_log ordered by id follows the order of the calls');
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM provsecret.audit_pending")
  or die 'pending events not chained';
is( $node->safe_psql('postgres',
		"SELECT string_agg(action, ',' ORDER BY id) FROM provsecret.audit_event "
		  . "WHERE reference = 'managed:project/p1/ordered'"),
	'secret.sealed,secret.rotated,secret.revealed,secret.deleted',
	'and keeps that order once chained');

# Event fields come from the call context.
my $row = $node->safe_psql('postgres',
	"SELECT principal, channel, outcome, value_version FROM provsecret.audit_log "
	  . "WHERE reference = 'managed:project/p1/rolled_back' AND action = 'secret.revealed'");
is($row, 'db:postgres|sql|ok|1', 'principal, channel, outcome, version recorded');

$node->stop;
done_testing();
