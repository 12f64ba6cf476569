# The root key (and the previous one) never shows (DESIGN §6): not in SHOW
# ALL, pg_settings, the server log, an env: resolve, nor the environment or
# command line of any server process, the postmaster included.  The
# postmaster's original environment block is what /proc/<pid>/environ
# shows, so it must be overwritten in place, not merely unsetenv'd.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key      = random_key();
my $previous = random_key();
my $visible  = random_text('visible-', 20);

# The detector finds a key in a process environment: the test can fail.
{
	local $ENV{ KEY_VAR() } = $key;
	my $pid = open(my $child, '-|', 'sleep', '30') or die "sleep: $!";
	ok(leaks(read_proc($pid, 'environ') // '', $key),
		'control: the key is found in the environ of a process given it');
	kill 'TERM', $pid;
	close $child;
}

my $node = ps_node('exposure', 2);
ok(ps_start($node, key => $key, previous => $previous,
		env => { PS_TAP_VISIBLE => $visible }),
	'server starts with a key and a previous key');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('tap');
  SELECT provsecret.seal('managed:project/tap/openai', 'v1');});
is(ps_sql($node, "SELECT " . resolves_to('managed:project/tap/openai', 'v1')),
	't', 'the key is in use');

# SHOW ALL and pg_settings, every column.
my $show = ps_sql($node, 'SHOW ALL');
my $settings = ps_sql($node,
	q{SELECT string_agg(s::text, E'\n') FROM pg_settings s;
	  SELECT string_agg(f::text, E'\n') FROM pg_file_settings f;});
for ([ root => $key ], [ previous => $previous ])
{
	my ($what, $k) = @$_;
	ok(!leaks($show, $k), "the $what key is not in SHOW ALL");
	ok(!leaks($settings, $k), "the $what key is not in pg_settings");
}

# env: never resolves the key variables, even when allowlisted.
my $allow = join(',', KEY_VAR, PREVIOUS_VAR, 'PS_TAP_VISIBLE');
for my $var (KEY_VAR, PREVIOUS_VAR)
{
	my $r = ps_try($node,
		"SET provsecret.env_allowlist = '$allow';
		 SELECT provsecret.resolve('env:$var');");
	ok(!$r->{ok}, "env:$var does not resolve even when allowlisted");
	ok(!leaks($r->{out} . $r->{err}, $key) && !leaks($r->{out} . $r->{err}, $previous),
		"env:$var: no key in output or error");
}
is(ps_sql($node,
	"SET provsecret.env_allowlist = '$allow';
	 SELECT " . resolves_to('env:PS_TAP_VISIBLE', $visible)),
	't', 'control: an allowlisted ordinary variable does resolve');

# Every server process: the postmaster and all its children, with a client
# backend held open so that one is among them.
my $session = $node->background_psql('postgres');
$session->query_safe('SELECT 1');
my $backend_pid = $session->query_safe('SELECT pg_backend_pid()');

my ($postmaster, @children) = server_pids($node);
my %pids = map { $_ => 1 } ($postmaster, @children);
# Asked through the open session: a new connection would add a backend.
my $activity_pids = $session->query_safe(
	q{SELECT string_agg(pid::text, E'\n') FROM pg_stat_activity});
for my $pid (split /\n/, $activity_pids)
{
	ok($pids{$pid}, "pg_stat_activity pid $pid is among the children read");
}
ok($pids{$backend_pid}, 'the open client backend is among them');
cmp_ok(scalar keys %pids, '>=', 5, 'postmaster and at least four children');

for my $pid (sort { $a <=> $b } keys %pids)
{
	my $label = $pid == $postmaster ? "postmaster $pid" : "server process $pid";
	my $environ = read_proc($pid, 'environ');
	my $cmdline = read_proc($pid, 'cmdline');
	ok(defined $environ, "$label: environ readable");
	for ([ root => $key ], [ previous => $previous ])
	{
		my ($what, $k) = @$_;
		ok(!leaks($environ // '', $k), "$label: the $what key is not in environ");
		ok(!leaks($cmdline // '', $k), "$label: the $what key is not in cmdline");
	}
}

$session->quit;

# The log, last: it holds everything the steps above made the server say.
my $log = slurp_file($node->logfile);
ok(!leaks($log, $key),      'the key is not in the server log');
ok(!leaks($log, $previous), 'the previous key is not in the server log');

$node->stop;
done_testing();
