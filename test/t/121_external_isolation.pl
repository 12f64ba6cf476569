# What protects callers from a bad external backend: a hanging backend does
# not hold up other sessions' managed resolves; a waiting resolve is
# cancelled by statement_timeout and by pg_cancel_backend; the circuit
# breaker opens after N consecutive failures (calls then fail fast without
# reaching the backend), and closes again after the cool-down once the
# backend is healthy; the TTL cache answers without calling the backend and
# is dropped when the resolver is altered.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time sleep);

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $vault_token = random_text('vt-canary-', 24);
my $fb = FakeBackends->start(
	vault_token => $vault_token,
	infisical_token => random_text('it-', 16),
	json_token => random_text('jt-', 16));

my $node = ps_node('isolation', 3,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'");
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $value = random_text('sk-vault-canary-', 24);
$fb->vault_put('secret', 'team/openai', { value => $value });
my $base = $fb->url;
ps_sql($node, qq{
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:project/ws1/LOCAL', 'canary-local');
	SELECT provsecret.create_resolver('hang', 'project/ws1', 'vault-kv2', '$base/fault/hang',
		'{"timeout_ms":8000,"breaker_failures":0}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('sw', 'project/ws1', 'vault-kv2', '$base/switch',
		'{"timeout_ms":1000,"breaker_failures":3,"breaker_cooldown_s":2}',
		'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('cached', 'project/ws1', 'vault-kv2', '$base',
		'{"cache_ttl_s":60}', 'managed:project/ws1/vault-token');
});

sub wait_for_waiting_resolve
{
	return $node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_stat_activity
		   WHERE query LIKE '%external:hang/%' AND pid <> pg_backend_pid()
		     AND state = 'active'});
}

# --- a hanging backend holds up only its own caller ---------------------------
my ($h, $out, $err) = ps_background($node, "SELECT provsecret.resolve('external:hang/team/openai')");
ok(wait_for_waiting_resolve(), 'a resolve is waiting on the hanging backend');
my $t0 = time;
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws1/LOCAL')"), 'canary-local',
	'another session resolves a managed secret meanwhile');
my $elapsed = time - $t0;
ok($elapsed < 1.0, sprintf('... at once (%.2f s)', $elapsed));
$h->finish;
like($$err, qr/58030.*external resolver hang/, 'the waiting resolve ends with 58030 at its own timeout');

# --- statement_timeout --------------------------------------------------------
$t0 = time;
my $r = ps_try($node,
	"SET statement_timeout = '300ms'; SELECT provsecret.resolve('external:hang/team/openai')");
$elapsed = time - $t0;
is($r->{sqlstate}, '57014', 'statement_timeout cancels a waiting resolve (57014)');
ok($elapsed < 2.0, sprintf('... promptly (%.2f s of an 8 s resolver timeout)', $elapsed));

# --- pg_cancel_backend --------------------------------------------------------
($h, $out, $err) = ps_background($node, "SELECT provsecret.resolve('external:hang/team/openai')");
ok(wait_for_waiting_resolve(), 'another resolve is waiting');
$t0 = time;
is(ps_sql($node, q{SELECT bool_and(pg_cancel_backend(pid)) FROM pg_stat_activity
	WHERE query LIKE '%external:hang/%' AND pid <> pg_backend_pid()}), 't', 'pg_cancel_backend');
$h->finish;
$elapsed = time - $t0;
like($$err, qr/57014/, 'the waiting resolve is cancelled (57014)');
ok($elapsed < 2.0, sprintf('... promptly (%.2f s)', $elapsed));
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws1/LOCAL')"), 'canary-local',
	'the server is fine afterwards');

# --- circuit breaker ----------------------------------------------------------
$fb->vault_put('secret', 'x', { value => 'canary-sw' });
$fb->switch('500');
for my $i (1 .. 3)
{
	$r = ps_try($node, "SELECT provsecret.resolve('external:sw/x')");
	like($r->{message}, qr/external resolver sw: backend answered HTTP 500/, "failure $i reaches the backend");
}
my $seen = $fb->requests('/switch');
is($seen, 3, 'the backend saw three calls');
$t0 = time;
$r = ps_try($node, "SELECT provsecret.resolve('external:sw/x')");
$elapsed = time - $t0;
is($r->{sqlstate}, '58030', 'after 3 failures the breaker is open: 58030');
like($r->{message}, qr/failing fast/, '... failing fast');
is($fb->requests('/switch'), $seen, '... without calling the backend');
$r = ps_try($node, "SELECT provsecret.resolve('external:sw/x')");
like($r->{message}, qr/failing fast/, 'still open for another session');

$fb->switch('ok');
sleep 2.2;
is(ps_sql($node, "SELECT provsecret.resolve('external:sw/x')"), 'canary-sw',
	'after the cool-down, a trial call goes through and succeeds');
is(ps_sql($node, "SELECT provsecret.resolve('external:sw/x')"), 'canary-sw', 'the breaker is closed again');

$fb->switch('500');
ps_try($node, "SELECT provsecret.resolve('external:sw/x')") for 1 .. 3;
like(ps_try($node, "SELECT provsecret.resolve('external:sw/x')")->{message}, qr/failing fast/,
	'open again after three more failures');
ps_sql($node, q{SELECT provsecret.alter_resolver('sw', options => '{"timeout_ms":1000,"breaker_failures":3,"breaker_cooldown_s":60}')});
$fb->switch('ok');
is(ps_sql($node, "SELECT provsecret.resolve('external:sw/x')"), 'canary-sw',
	'altering the resolver resets its breaker');

# A 4xx is a healthy backend saying no: it never opens the breaker.
$fb->switch('403');
$seen = $fb->requests('/switch');
for my $i (1 .. 4)
{
	like(ps_try($node, "SELECT provsecret.resolve('external:sw/x')")->{message},
		qr/backend refused the credentials \(HTTP 403\)/, "refusal $i reaches the backend");
}
is($fb->requests('/switch'), $seen + 4, 'four refusals, the breaker still closed');
$fb->switch('ok');

# --- TTL cache ----------------------------------------------------------------
my $before = $fb->requests('/v1');
my $got = ps_sql($node, q{SELECT provsecret.resolve('external:cached/team/openai');
	SELECT provsecret.resolve('external:cached/team/openai');});
is($got, "$value\n$value", 'a cached resolver answers twice');
is($fb->requests('/v1') - $before, 1, '... calling the backend once (same session)');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log
	WHERE reference = 'external:cached/team/openai' AND detail = 'resolver cached: cached'}),
	'1', 'a cached reveal is audited as such');
$got = ps_sql($node, q{SELECT provsecret.resolve('external:cached/team/openai');
	SELECT provsecret.alter_resolver('cached', options => '{"cache_ttl_s":30}');
	SELECT provsecret.resolve('external:cached/team/openai');});
is($fb->requests('/v1') - $before, 3, 'altering the resolver drops its cached values');
ps_sql($node, q{CREATE ROLE ext_cache_nobody;
	SELECT provsecret.grant('db:ext_cache_nobody', 'project/ws1', ARRAY['describe'])});
$r = ps_try($node, q{SELECT provsecret.resolve('external:cached/team/openai');
	SET ROLE ext_cache_nobody; SELECT provsecret.resolve('external:cached/team/openai')});
is($r->{sqlstate}, '42501', 'a cached value is still authorized per call');

$node->stop;
$fb->stop;
done_testing();
