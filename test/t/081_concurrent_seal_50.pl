# Concurrent seals (issue 7 item 9): 50 sessions sealing the same reference
# at the same moment end in one secret with value_version 50, versions 1..50
# each audited once (one secret.sealed, 49 secret.rotated), no deadlock or
# serialization error reaching a caller, and a consistent current value.
# Then 20 sessions sealing two references of one new tenant create its data
# key once.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node('concurrent', 5, max_connections => 80);
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('conc');});
my $script_dir = PostgreSQL::Test::Utils::tempdir;

# Run $clients pgbench clients once each.  Every client first waits on a
# shared advisory lock the test holds exclusively, so all of them are
# connected and blocked before any seals; the lock is released once
# pg_locks shows every one of them waiting.  Returns (stdout, stderr).
sub all_at_once
{
	my ($clients, $statement) = @_;
	my $file = "$script_dir/seal_$clients.sql";
	open(my $fh, '>', $file) or die $!;
	print $fh "SELECT pg_advisory_lock_shared(4242);\n",
	  "SELECT pg_advisory_unlock_shared(4242);\n", "$statement\n";
	close $fh;

	my $gate = $node->background_psql('postgres');
	$gate->query_safe('SELECT pg_advisory_lock(4242)');
	my ($out, $err) = ('', '');
	my $bench = IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', 10, '-t', 1, '-f', $file,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	my $waiting = 0;
	for (1 .. 600)
	{
		$waiting = ps_sql($node, q{SELECT count(*) FROM pg_locks
		  WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted});
		last if $waiting == $clients;
		sleep 0.1;
	}
	is($waiting, $clients, "all $clients clients wait at the gate");
	$gate->query_safe('SELECT pg_advisory_unlock(4242)');
	$gate->quit;
	$bench->finish;
	return ($out, $err);
}

sub no_error_surfaced
{
	my ($clients, $out, $err) = @_;
	like($out, qr{number of transactions actually processed: $clients/$clients},
		"every one of the $clients clients committed");
	like($out, qr{number of failed transactions: 0\b}, 'pgbench counts no failed transaction');
	unlike($err, qr/ERROR|deadlock|serializ|could not/i,
		'no error (deadlock, serialization, unique violation) reached a client')
	  or diag($err);
}

# --- 50 sessions, one reference ----------------------------------------------
my $ref = 'managed:project/conc/openai';
# :client_id is 0..49; the description names the client too, so the row
# read afterwards must pair one client's value with the same client's text.
my ($out, $err) = all_at_once(50,
	"SELECT provsecret.seal('$ref', 'value-of-client-' || :client_id, 'client ' || :client_id);");
no_error_surfaced(50, $out, $err);

is(ps_sql($node, "SELECT count(*) FROM provsecret.ai_provider_secret WHERE reference = '$ref'"),
	'1', 'exactly one secret row');
is(ps_sql($node, "SELECT value_version FROM provsecret.secrets WHERE reference = '$ref'"),
	'50', 'value_version = 50');
is(ps_sql($node, "SELECT string_agg(action, ',') FROM provsecret.audit_log
  WHERE reference = '$ref' AND value_version = 1"), 'secret.sealed',
	'version 1: one secret.sealed event');
is(ps_sql($node, "SELECT count(*) || ' ' || count(DISTINCT value_version) || ' '
  || min(value_version) || ' ' || max(value_version) FROM provsecret.audit_log
  WHERE reference = '$ref' AND action = 'secret.rotated'"), '49 49 2 50',
	'versions 2..50: 49 secret.rotated events, one per version');
is(ps_sql($node, "SELECT count(*) FROM provsecret.audit_log WHERE reference = '$ref'
  AND action IN ('secret.sealed', 'secret.rotated')"), '50',
	'50 seal events in all');
is(ps_sql($node, "SELECT max(value_version) FROM provsecret.versions('$ref')"),
	'50', 'versions() lists 50 as the newest');

my $value = ps_sql($node, "SELECT provsecret.resolve('$ref')");
my $description = ps_sql($node, "SELECT description FROM provsecret.secrets WHERE reference = '$ref'");
like($value, qr/^value-of-client-(\d+)$/, 'resolve returns one of the 50 values');
my ($value_client) = $value =~ /(\d+)$/;
is($description, "client $value_client",
	'the current value and description come from the same seal');
cmp_ok($value_client, '<', 50, 'a client that took part');

# Every kept version decrypts: roll back to the oldest kept one.
my $oldest = ps_sql($node, "SELECT min(value_version) FROM provsecret.versions('$ref')");
cmp_ok($oldest, '<', 50, 'earlier versions are kept');
is(ps_sql($node, "SELECT provsecret.rollback('$ref', $oldest)"), '51',
	'rolling back to a kept version re-seals it as 51');
like(ps_sql($node, "SELECT provsecret.resolve('$ref')"), qr/^value-of-client-\d+$/,
	'the rolled-back version decrypts');

# --- 20 sessions, two references, one new tenant -----------------------------
my $tenant = 'fresh';
is(ps_sql($node, "SELECT count(*) FROM provsecret.data_key WHERE tenant LIKE '%$tenant'"),
	'0', 'the new tenant has no data key yet');
($out, $err) = all_at_once(20,
	"SELECT provsecret.seal('managed:project/$tenant/key' || (:client_id % 2), 'v' || :client_id);");
no_error_surfaced(20, $out, $err);
is(ps_sql($node, "SELECT count(*) || ' ' || count(*) FILTER (WHERE retired_at IS NULL)
  FROM provsecret.data_key WHERE tenant = 'project/$tenant'"), '1 1',
	'the new tenant\'s data key was created once (one row, active)');
is(ps_sql($node, "SELECT string_agg(reference || '=' || value_version, ',' ORDER BY reference)
  FROM provsecret.secrets WHERE project = '$tenant'"),
	"managed:project/$tenant/key0=10,managed:project/$tenant/key1=10",
	'two secrets, ten versions each');
is(ps_sql($node, "SELECT count(DISTINCT data_key_id) FROM provsecret.ai_provider_secret
  WHERE project = '$tenant'"), '1', 'both sealed under the one data key');
for my $i (0, 1)
{
	like(ps_sql($node, "SELECT provsecret.resolve('managed:project/$tenant/key$i')"),
		qr/^v\d+$/, "key$i resolves");
}

$node->stop;
done_testing();
