# Under a concurrent pgbench reveal load: many waiting backends share one
# commit (group commit), and a kill -9 of the audit worker mid-load loses no
# event of a reveal whose value was returned.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use IPC::Run;
use AuditNode;

# fsync on: group commit only shows when a commit costs something.
my $node = audit_node('audit_worker_crash', 8,
	max_connections    => 40,
	synchronous_commit => 'on',
	fsync              => 'on');

my $script = PostgreSQL::Test::Utils::tempdir() . '/reveal.sql';
sub write_script
{
	my ($reference) = @_;
	seal_secret($node, $reference);
	open my $fh, '>', $script or die;
	print $fh reveal_sql($reference) . ";\n";
	close $fh;
}

# Start pgbench; returns the harness and refs to its output.
sub start_pgbench
{
	my ($clients, $seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $clients, '-j', 2, '-T', $seconds, '-f', $script, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

sub processed
{
	my ($out) = @_;
	$$out =~ /number of transactions actually processed: (\d+)/
	  or die "no pgbench summary in: $$out";
	return $1;
}

# 1. Group commit: 16 clients, no crash.
my $ref = 'managed:project/p1/group_commit';
write_script($ref);
my $before = $node->safe_psql('postgres',
	'SELECT events_written || \'|\' || batches FROM provsecret.audit_worker_status');
my ($h, $out, $err) = start_pgbench(16, 3);
$h->finish;
my $returned = processed($out);
ok($returned > 0, "pgbench returned $returned reveals");
is(events_for($node, $ref, 'secret.revealed'), $returned,
	'one event per returned reveal');
my ($ev0, $b0) = split /\|/, $before;
my ($ev1, $b1) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT events_written || \'|\' || batches FROM provsecret.audit_worker_status');
my $per_commit = ($ev1 - $ev0) / (($b1 - $b0) || 1);
note sprintf('%d events in %d commits: %.1f events per commit',
	$ev1 - $ev0, $b1 - $b0, $per_commit);
ok($per_commit > 1.5, 'waiting backends share commits (group commit)');

# 2. kill -9 of the audit worker during the load.
$ref = 'managed:project/p1/worker_killed';
write_script($ref);
($h, $out, $err) = start_pgbench(8, 4);
sleep 2;
my $worker = audit_worker_pid($node);
kill 'KILL', $worker;
$h->finish;    # clients abort when the server restarts
$returned = processed($out);
ok($returned > 0, "pgbench returned $returned reveals before the crash");
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not recover';
wait_for_worker($node, $worker);
my $events = events_for($node, $ref, 'secret.revealed');
note "returned $returned, events $events";
cmp_ok($events, '>=', $returned,
	'every reveal that returned a value has its event after the worker crash');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'chain verifies after the crash');

$node->stop;
done_testing();
