# The "provsecret outbound" worker makes every outbound HTTP call: it is
# listed as a process; calls of many sessions run at once; one keep-alive
# connection serves sequential calls of different sessions; a cancelled or
# timed-out call is dropped by the worker (its connection closes) and the
# worker serves the next one; a worker stopped mid-call gives the caller
# 58030 at once and comes back; calls made while it restarts wait for it;
# a SIGKILL (a crash restart of the server) ends the waiting session, no
# hang; a full slot table is a 58030 error, not a wait; SIGHUP resizes the
# connection pool.  No token or value reaches the server log.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IPC::Run;
use Time::HiRes qw(time sleep);

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $vault_token = random_text('vt-canary-', 24);
my %tokens = (
	vault_token => $vault_token,
	infisical_token => random_text('it-', 16),
	json_token => random_text('jt-', 16));
my $fb = FakeBackends->start(%tokens);
# the hanging backend alone: its open connections are the hanging calls'
my $fb_hang = FakeBackends->start(%tokens);

my $node = ps_node('outbound', 12,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'",
	max_connections => 40, restart_after_crash => 'on');
my $key = random_key();
ok(ps_start($node, key => $key), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');
my $log_start = -s $node->logfile;

my $value = random_text('sk-outbound-canary-', 24);
$fb->vault_put('secret', 'team/openai', { value => $value });
my ($base, $hang_base) = ($fb->url, $fb_hang->url);
ps_sql($node, qq{
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:project/ws1/json-token', '$tokens{json_token}');
	SELECT provsecret.create_resolver('fast', 'project/ws1', 'vault-kv2', '$base',
		'{"breaker_failures":0}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('slow', 'project/ws1', 'vault-kv2', '$base/fault/slow-1000',
		'{"timeout_ms":8000,"breaker_failures":0}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('big', 'project/ws1', 'http-json', '$base/json',
		'{"breaker_failures":0}', 'managed:project/ws1/json-token');
	SELECT provsecret.create_resolver('hang', 'project/ws1', 'vault-kv2', '$hang_base/fault/hang',
		'{"timeout_ms":8000,"breaker_failures":0}', 'managed:project/ws1/vault-token');
});

sub worker_pid
{
	return ps_sql($node,
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret outbound'});
}

# Wait until a worker other than $old runs; returns its pid.
sub wait_for_new_worker
{
	my ($old) = @_;
	for (1 .. 100)
	{
		my $pid = eval { worker_pid() } // '';
		return $pid if $pid =~ /^\d+$/ && $pid ne $old;
		sleep 0.1;
	}
	return '';
}

sub poll
{
	my ($cond, $seconds) = @_;
	my $until = time + $seconds;
	while (time < $until)
	{
		return 1 if $cond->();
		sleep 0.05;
	}
	return $cond->();
}

# A resolve through the hanging backend, in the background, once its
# request reached the backend.
sub start_hanging_call
{
	my ($sql) = @_;
	my $open = $fb_hang->open_connections('provsecret');
	my @bg = ps_background($node, $sql // "SELECT provsecret.resolve('external:hang/team/openai')");
	ok(poll(sub { $fb_hang->open_connections('provsecret') > $open }, 10),
		'a call is waiting on the hanging backend');
	return @bg;
}

my $resolve_fast = "SELECT provsecret.resolve('external:fast/team/openai')";

# --- the worker is a listed process ---------------------------------------------
my $pid = worker_pid();
like($pid, qr/^\d+$/, 'pg_stat_activity lists the provsecret outbound worker');
my (undef, @children) = server_pids($node);
ok((grep { $_ == $pid } @children), '... a child of the postmaster');
like(read_proc($pid, 'cmdline') // '', qr/provsecret outbound/,
	'... named "provsecret outbound" in the process list');

is(ps_sql($node, $resolve_fast), $value, 'a resolve goes through the worker');

# A response far larger than the 64 KiB ring travels in frames, the
# worker waiting for the caller to make room.
my $big = random_text('sk-big-canary-', 24);
$fb->json_put('big', { filler => 'x' x 1_000_000, value => $big });
is(ps_sql($node, "SELECT provsecret.resolve('external:big/big')"), $big,
	'a 1 MB response comes through whole');

# --- keep-alive: one connection for sequential calls of different sessions ------
my $conns = $fb->connections('provsecret');
my $reqs = $fb->requests('/v1');
is(ps_sql($node, $resolve_fast), $value, "call $_ (new session)") for 1 .. 5;
is($fb->requests('/v1') - $reqs, 5, 'the backend saw five requests');
is($fb->connections('provsecret') - $conns, 0,
	'... on the keep-alive connection of the first call: no new connection');

# latency of a call through the worker (a measurement, not a check)
my $t0 = time;
ps_sql($node, q{SELECT count(provsecret.resolve('external:fast/team/openai'))
	FROM generate_series(1, 200)});
diag sprintf('200 sequential resolves in one session: %.2f ms each', (time - $t0) * 1000 / 200);

# --- concurrency: 8 sessions, 1 s each ---------------------------------------------
my $n = 8;
$t0 = time;
my @calls = map { [ ps_background($node, "SELECT provsecret.resolve('external:slow/team/openai')") ] } 1 .. $n;
$_->[0]->finish for @calls;
my $elapsed = time - $t0;
is(scalar(grep { ${ $_->[1] } eq "$value\n" } @calls), $n, "$n sessions each got the value");
ok($elapsed < $n / 2, sprintf('%d calls of 1 s ran concurrently: %.2f s in all', $n, $elapsed));
diag sprintf('%d concurrent 1 s calls: %.2f s', $n, $elapsed);

# --- cancel and statement_timeout --------------------------------------------------
my ($h, $out, $err) = start_hanging_call();
$t0 = time;
ps_sql($node, q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%external:hang/%' AND pid <> pg_backend_pid()});
$h->finish;
$elapsed = time - $t0;
like($$err, qr/57014/, 'pg_cancel_backend ends the waiting call (57014)');
ok($elapsed < 2, sprintf('... promptly (%.2f s)', $elapsed));
ok(poll(sub { $fb_hang->open_connections('provsecret') == 0 }, 3),
	'the worker drops the abandoned transfer (its connection closes)');

($h, $out, $err) = start_hanging_call(
	"SET statement_timeout = '300ms'; SELECT provsecret.resolve('external:hang/team/openai')");
$t0 = time;
$h->finish;
$elapsed = time - $t0;
like($$err, qr/57014/, 'statement_timeout ends the waiting call (57014)');
ok($elapsed < 2, sprintf('... promptly (%.2f s)', $elapsed));
ok(poll(sub { $fb_hang->open_connections('provsecret') == 0 }, 3),
	'... and the worker drops that transfer too');
is(ps_sql($node, $resolve_fast), $value, 'the worker serves the next call');
is(worker_pid(), $pid, '... the same worker');

# A caller that gives up frees its slot at once; the next call (here from
# the same session, so it takes the same slot) must not be mixed up with
# the abandoned one the worker has not noticed yet: a 1 MB answer needs
# many frames, which only a call the worker still tracks receives.
my $mixups = 0;
for my $round (1 .. 8)
{
	my $script = qq{SET statement_timeout = '150ms';
SELECT provsecret.resolve('external:hang/team/openai');
SET statement_timeout = '20s';
SELECT provsecret.resolve('external:big/big');
};
	my ($out2, $err2) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('postgres') ],
		'<', \$script, '>', \$out2, '2>', \$err2);
	next if $out2 =~ /\Q$big\E/;
	$mixups++;
	diag "round $round: " . ($err2 =~ /(ERROR:[^\n]*)/g)[-1];
}
is($mixups, 0, 'a call right after an abandoned one in the same slot gets its whole answer');

# --- the worker stops mid-call ------------------------------------------------------
($h, $out, $err) = start_hanging_call();
$t0 = time;
kill 'TERM', $pid;
$h->finish;
$elapsed = time - $t0;
like($$err, qr/58030.*outbound worker stopped during the call/,
	'a worker stopped mid-call: the waiting call fails with 58030');
ok($elapsed < 2, sprintf('... at once (%.2f s of an 8 s timeout)', $elapsed));
my $new = wait_for_new_worker($pid);
like($new, qr/^\d+$/, 'the worker is started again');
is(ps_sql($node, $resolve_fast), $value, '... and serves the next call');

$pid = $new;
kill 'TERM', $pid;
$t0 = time;
is(ps_sql($node, $resolve_fast), $value, 'a call made while the worker restarts waits for it');
diag sprintf('call during a worker restart: %.2f s', time - $t0);
$pid = wait_for_new_worker($pid);

# SIGKILL of a process attached to shared memory makes the postmaster
# restart the server: the waiting session is ended, it does not hang.
($h, $out, $err) = start_hanging_call();
$t0 = time;
kill 'KILL', $pid;
$h->finish;
$elapsed = time - $t0;
ok($$out eq '' && $$err ne '', 'SIGKILL of the worker ends the waiting session (crash restart)');
ok($elapsed < 5, sprintf('... promptly (%.2f s)', $elapsed));
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not recover';
$new = wait_for_new_worker($pid);
like($new, qr/^\d+$/, 'after the restart the worker runs again');
is(ps_sql($node, $resolve_fast), $value, '... and serves calls');

# --- SIGHUP: the connection pool size -----------------------------------------------
ps_sql($node, q{ALTER SYSTEM SET provsecret.outbound_max_connections = 1; SELECT pg_reload_conf()});
sleep 0.5;
$t0 = time;
@calls = map { [ ps_background($node, "SELECT provsecret.resolve('external:slow/team/openai')") ] } 1 .. 3;
$_->[0]->finish for @calls;
$elapsed = time - $t0;
is(scalar(grep { ${ $_->[1] } eq "$value\n" } @calls), 3, 'with a pool of one connection, calls still succeed');
ok($elapsed > 2.5, sprintf('... one after another after a reload (%.2f s for 3 calls of 1 s)', $elapsed));
ps_sql($node, q{ALTER SYSTEM RESET provsecret.outbound_max_connections; SELECT pg_reload_conf()});

# --- a full slot table ----------------------------------------------------------------
$node->append_conf('postgresql.conf', 'provsecret.outbound_max_calls = 2');
ok(ps_restart($node, key => $key), 'restart with two outbound slots')
  or BAIL_OUT('no restart');
my @hanging = map { [ start_hanging_call() ] } 1 .. 2;
$t0 = time;
my $r = ps_try($node, $resolve_fast);
$elapsed = time - $t0;
is($r->{sqlstate}, '58030', 'every slot busy: 58030');
like($r->{message}, qr/too many outbound calls in flight/, '... saying so');
ok($elapsed < 3, sprintf('... after a short wait (%.2f s)', $elapsed));
$_->[0]->kill_kill for @hanging;

my $log = log_since($node, $log_start);
ok(!grep({ leaks($log, $_) } $vault_token, $tokens{json_token}, $value, $big),
	'no token or value in the server log');

$node->stop;
$fb->stop;
$fb_hang->stop;
done_testing();
