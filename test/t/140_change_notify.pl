# NOTIFY provsecret_changes (README, Change notifications): with
# provsecret.notify_changes on, each committed seal, rotation, rollback and
# delete sends {"reference","value_version","action"} to the listeners,
# never a value; a rolled-back change sends nothing; off (the default)
# sends nothing at all, and only a superuser may turn it on.
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

my $node = audit_node('change_notify', 40);
my $ref  = 'managed:project/notify_p/K';
my $canary = random_text('notify-canary-', 12);

# A session that LISTENs while $changes run in other sessions; returns the
# payloads it received, in order.
sub notifications
{
	my ($changes, $role) = @_;
	my $as = $role ? "SET ROLE $role; " : '';
	my ($out, $err) = ('', '');
	# LISTEN counts from its commit, and a backend passes notifications on
	# while idle, after the sleep's answer: the last commands read them
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'),
		  '-c', "${as}LISTEN provsecret_changes", '-c', 'SELECT pg_sleep(6)',
		  '-c', 'SELECT pg_sleep(0.5)', '-c', 'SELECT 1' ],
		'>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(6)'"
		  . " AND state = 'active'")
	  or die 'the listener did not start';
	$changes->();
	$h->finish;
	return [ $out =~ /Asynchronous notification "provsecret_changes" with payload "(.*?)" received/g ], $out . $err;
}

# default off: nothing
my ($got, $all) = notifications(sub {
	ps_sql($node, "SELECT provsecret.seal('$ref', '$canary')");
});
is_deeply($got, [], 'off by default: no notification') or diag($all);

my $r = ps_try($node, "CREATE ROLE pst_notify LOGIN; SET ROLE pst_notify; SET provsecret.notify_changes = on");
is($r->{sqlstate}, '42501', 'a non-superuser cannot turn notifications on');

ps_sql($node, 'ALTER SYSTEM SET provsecret.notify_changes = on; SELECT pg_reload_conf()');
$node->poll_query_until('postgres', "SELECT current_setting('provsecret.notify_changes') = 'on'")
  or die 'setting not reloaded';

($got, $all) = notifications(sub {
	ps_sql($node, "SELECT provsecret.seal('$ref', '$canary-2')");
	ps_sql($node, "SELECT provsecret.seal('managed:project/notify_p/NEW', '$canary')");
	ps_sql($node, "BEGIN; SELECT provsecret.seal('$ref', '$canary-lost'); ROLLBACK");
	ps_sql($node, "BEGIN; SELECT provsecret.delete_secret('managed:project/notify_p/NEW'); ROLLBACK");
	ps_sql($node, "SELECT provsecret.rollback('$ref', 1)");
	ps_try($node, "SELECT provsecret.seal('$ref', '$canary-failed'), 1/0");
	ps_sql($node, "SELECT provsecret.delete_secret('managed:project/notify_p/NEW')");
	ps_sql($node, "SELECT provsecret.delete_secret('managed:project/notify_p/NEVER')");
});
is_deeply($got, [
	'{"reference":"managed:project/notify_p/K","value_version":2,"action":"rotated"}',
	'{"reference":"managed:project/notify_p/NEW","value_version":1,"action":"sealed"}',
	'{"reference":"managed:project/notify_p/K","value_version":3,"action":"rolled_back"}',
	'{"reference":"managed:project/notify_p/NEW","value_version":1,"action":"deleted"}',
], 'one payload per committed change, none for rolled-back or failed ones or a delete of nothing')
  or diag($all);
unlike($all, qr/notify-canary/, 'no value in any payload');
ok(ps_sql($node, 'SELECT ' . resolves_to($ref, $canary)) eq 't',
	'the rollback restored version 1');

# a notification reaches any role that LISTENs, even one without a grant
# (PostgreSQL has no privilege on channels): why the setting is opt-in
($got, $all) = notifications(sub {
	ps_sql($node, "SELECT provsecret.seal('$ref', '$canary-4')");
}, 'pst_notify');
is_deeply($got, ['{"reference":"managed:project/notify_p/K","value_version":4,"action":"rotated"}'],
	'a role without any grant received the rotation') or diag($all);

$node->stop;
done_testing();
