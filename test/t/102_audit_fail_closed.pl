# Fail closed: when the audit worker cannot acknowledge an event, the reveal
# errors and no value is returned; the worker restarts after a crash or a
# termination and reveals work again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use Time::HiRes qw(time);
use AuditNode;

my $node = audit_node('audit_fail_closed', 7,
	'provsecret.audit_timeout' => "'1s'");

my $ref = 'managed:project/p1/fail_closed';
seal_secret($node, $ref);
is($node->safe_psql('postgres', reveal_sql($ref)), 'value', 'reveal works with the worker up');

my $worker = audit_worker_pid($node);
like($worker, qr/^\d+$/, 'audit worker visible in pg_stat_activity as "provsecret audit"');
is($node->safe_psql('postgres', 'SELECT worker_pid FROM provsecret.audit_worker_status'),
	$worker, 'audit_worker_status shows the worker pid');

# A stopped (SIGSTOP) worker: the reveal must fail within the timeout.
kill 'STOP', $worker;
my $start = time;
my ($rc, $out, $err) = $node->psql('postgres', reveal_sql($ref),
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
my $elapsed = time - $start;
kill 'CONT', $worker;
isnt($rc, 0, 'reveal fails while the worker cannot acknowledge');
is($out, '', 'no value returned');
like($err, qr/55000/, 'SQLSTATE 55000');
like($err, qr/audit event not recorded within provsecret.audit_timeout/, 'clear message');
ok($elapsed >= 0.9 && $elapsed < 10, "failed after the timeout ($elapsed s)");

# The failed reveal left its slot free and the worker resumes.
is($node->safe_psql('postgres', reveal_sql($ref)), 'value', 'reveal works again after SIGCONT');
is($node->safe_psql('postgres', 'SELECT queue_depth + in_flight FROM provsecret.audit_worker_status'),
	'0', 'queue is empty');
is(events_for($node, $ref, 'secret.revealed'), '2',
	'exactly the two returned reveals have events');

# A terminated worker is restarted; a reveal meanwhile waits for it.
# The postmaster restarts it after bgw_restart_time (1 s), as long as the 1 s
# timeout above: this reveal waits longer, so a slow restart is no failure.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($worker)");
($rc, $out, $err) = $node->psql('postgres',
	"SET provsecret.audit_timeout = '10s';\n" . reveal_sql($ref));
is($out, 'value', 'reveal during the worker restart succeeds once it is back');
wait_for_worker($node, $worker);
isnt(audit_worker_pid($node), $worker, 'worker restarted with a new pid');

# kill -9 of the worker: crash restart, then reveals work again.
$worker = audit_worker_pid($node);
kill 'KILL', $worker;
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not recover';
wait_for_worker($node, $worker);
is($node->safe_psql('postgres', reveal_sql($ref)), 'value', 'reveal works after the worker crashed');
is(events_for($node, $ref, 'secret.revealed'), '4', 'all four returned reveals have events');

# Extension not installed in the audit database: fail closed, clear message.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION provsecret');
$node->safe_psql('other', seal_sql($ref));
($rc, $out, $err) = $node->psql('other', reveal_sql($ref));
is($out, 'value', 'a second database records through the worker of provsecret.database');
$node->safe_psql('postgres', 'DROP EXTENSION provsecret');
($rc, $out, $err) = $node->psql('other', reveal_sql($ref));
isnt($rc, 0, 'reveal fails when the audit database lacks the extension');
like($err, qr/extension provsecret is not installed in the audit database/, 'with a clear message');

$node->stop;
done_testing();
