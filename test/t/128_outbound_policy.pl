# Where a resolver may call (provsecret.outbound_allowed_hosts): plain
# http:// and loopback, private, link-local and other non-public addresses
# only for listed hosts; the server's own REST and PostgreSQL ports never,
# listed or not.  Checked when a resolver is created or its base_url
# altered (42501, naming the rule), before each call in the calling backend
# (58030 naming the resolver), and on the address the outbound worker
# actually connects to, so a name resolving to loopback is caught there.
# Only loopback is ever contacted; the other addresses are refused before
# any traffic.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time);

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $vault_token = random_text('vt-canary-', 24);
my $fb = FakeBackends->start(
	vault_token => $vault_token,
	infisical_token => random_text('it-', 24),
	json_token => random_text('jt-', 24));

# no allowlist at start
my $node = ps_node('outbound_policy', 7);
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $value = random_text('sk-policy-canary-', 24);
$fb->vault_put('secret', 'team/openai', { value => $value });
my $base = $fb->url;
my $fb_port = $fb->{port};
my $pg_port = $node->port;
my $rest_port = ps_sql($node, 'SHOW provsecret.rest_port');
ps_sql($node, qq{
	SELECT provsecret.register_project('ws1', NULL);
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
});
my $opts = '{"timeout_ms":2000,"breaker_failures":0}';

sub create
{
	my ($name, $url) = @_;
	return ps_try($node, qq{SELECT provsecret.create_resolver('$name', 'project/ws1',
		'vault-kv2', '$url', '$opts', 'managed:project/ws1/vault-token')});
}

sub set_allowlist
{
	my ($list) = @_;
	ps_sql($node, qq{ALTER SYSTEM SET provsecret.outbound_allowed_hosts = '$list'});
	ps_sql($node, 'SELECT pg_reload_conf()');
	# the outbound worker takes the new value at its next loop
	sleep 1;
}

sub backend_requests { return $fb->requests('/v1'); }

# --- nothing listed: loopback over plain http is refused at create -----------
my $r = create('plain', $base);
is($r->{sqlstate}, '42501', 'plain http to loopback without the allowlist: 42501 at create');
like($r->{message}, qr/outbound policy: plain http:\/\/ may be used only for hosts listed in provsecret\.outbound_allowed_hosts/,
	'... naming the rule');
ok($r->{err} !~ /127\.0\.0\.1/ && !leaks($r->{err}, $vault_token), '... without the URL or the token');

# --- literal non-public addresses: refused at create, nothing sent ------------
my @literals = (
	'https://10.0.0.1', 'https://172.16.5.4', 'https://192.168.1.1',
	'https://169.254.169.254', 'https://100.64.0.1', 'https://[::1]',
	'https://0.0.0.0', 'https://0', 'https://127.1', 'https://2130706433',
	'https://0x7f.0.0.1', 'https://[::ffff:127.0.0.1]', 'https://[::ffff:169.254.169.254]',
	'https://[fe80::1]', 'https://[fd00::1]', 'https://[64:ff9b::a9fe:a9fe]',
	'https://[2002:a00:1::]', 'https://224.0.0.1', 'https://[::]');
my $i = 0;
for my $url (@literals)
{
	my $t0 = time;
	$r = create('lit' . $i++, "$url:8200");
	my $elapsed = time - $t0;
	ok($r->{sqlstate} eq '42501'
		  && $r->{message} =~ /outbound policy: an? [a-z -]+(\([^)]*\) )?address may be called only when listed in provsecret\.outbound_allowed_hosts/
		  && $elapsed < 1,
		"$url is refused at create, at once ($r->{sqlstate}: $r->{message})");
}
is(ps_sql($node, q{SELECT count(*) FROM provsecret.resolvers WHERE name LIKE 'lit%'}), '0',
	'none of them was created');
ok(!create('public', 'https://vault.example.com')->{sqlstate}, 'a public https:// name is accepted');

# --- a name resolving to loopback: caught when connecting -----------------------
ok(!create('by-name', "https://localhost:$fb_port")->{sqlstate},
	'https://localhost passes create (names are judged by their addresses, at connect time)');
my $before = backend_requests();
$r = ps_try($node, "SELECT provsecret.resolve('external:by-name/team/openai')");
is($r->{sqlstate}, '58030', 'resolving through it: 58030');
like($r->{message}, qr/^external resolver by-name: backend call failed \(refused by the outbound policy: a loopback address may be called only when listed/,
	'... the connected address was loopback: refused, naming the resolver');
is(backend_requests(), $before, '... and the backend received nothing');

# --- listed: loopback works; the own ports stay refused -------------------------
set_allowlist('127.0.0.1');
ok(!create('plain', $base)->{sqlstate}, 'with 127.0.0.1 listed, plain http to it is accepted');
ok(ps_sql($node, 'SELECT ' . resolves_to('external:plain/team/openai', $value)) eq 't', '... and resolves');

for my $port ($pg_port, $rest_port)
{
	for my $url ("http://127.0.0.1:$port", "https://127.0.0.1:$port", "http://127.0.0.2:$port",
		"https://[::1]:$port", "https://0.0.0.0:$port")
	{
		$r = create('own', $url);
		ok($r->{sqlstate} eq '42501'
			  && $r->{message} =~ /the server's own REST and PostgreSQL ports are never called/,
			"$url (" . ($port == $pg_port ? 'PostgreSQL' : 'REST') . " port) is refused even when 127.0.0.1 is listed");
	}
}
set_allowlist("127.0.0.1:$pg_port, localhost");
$r = create('own', "http://127.0.0.1:$pg_port");
like($r->{message}, qr/own REST and PostgreSQL ports/, 'also when listed with its port');
ok(!create('own-by-name', "http://localhost:$pg_port")->{sqlstate},
	'http://localhost:<PostgreSQL port> with localhost listed passes create (a name)');
my $log_start = -s $node->logfile;
$r = ps_try($node, "SELECT provsecret.resolve('external:own-by-name/team/openai')");
is($r->{sqlstate}, '58030', '... but resolving through it is 58030');
like($r->{message}, qr/refused by the outbound policy: the server's own REST and PostgreSQL ports are never called/,
	'... refused at connect: the own port');
unlike(log_since($node, $log_start), qr/startup packet/,
	'... and PostgreSQL never saw a connection from it');

# --- the allowlist shrinks after create: refused before the call ----------------
set_allowlist('');
$before = backend_requests();
my $uses_sql = q{SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.used'
	AND detail LIKE 'resolver plain:%'};
my $uses = ps_sql($node, $uses_sql);
$r = ps_try($node, "SELECT provsecret.resolve('external:plain/team/openai')");
is($r->{sqlstate}, '58030', 'after the allowlist is emptied and reloaded, the resolver is refused: 58030');
like($r->{message}, qr/^external resolver plain: call refused by the outbound policy: plain http/,
	'... naming the resolver and the rule');
is(backend_requests(), $before, '... and nothing reached the backend');
is(ps_sql($node, $uses_sql), $uses, '... nor was the token used');

# A superuser's session value widens only that session's own checks: the
# outbound worker applies the server's setting to the URL and the address.
$r = ps_try($node, "SET provsecret.outbound_allowed_hosts = '127.0.0.1';
	SELECT provsecret.resolve('external:plain/team/openai')");
is($r->{sqlstate}, '58030', 'a session SET does not widen what the outbound worker calls');
like($r->{message}, qr/refused by the outbound policy/, '... refused by the worker');
is(backend_requests(), $before, '... and nothing reached the backend');

# --- alter_resolver -------------------------------------------------------------
$r = ps_try($node, q{SELECT provsecret.alter_resolver('public', base_url => 'https://169.254.169.254')});
is($r->{sqlstate}, '42501', 'alter_resolver to a link-local address: 42501');
like($r->{message}, qr/a link-local address may be called only when listed/, '... naming the rule');
is(ps_sql($node, q{SELECT base_url FROM provsecret.resolvers WHERE name = 'public'}),
	'https://vault.example.com', '... and the resolver is unchanged');
ok(!ps_try($node, q{SELECT provsecret.alter_resolver('plain', options => '{"timeout_ms":1000}')})->{sqlstate},
	'altering what is not base_url is allowed (the call is checked anyway)');

# --- the setting itself ----------------------------------------------------------
$r = ps_try($node, q{ALTER SYSTEM SET provsecret.outbound_allowed_hosts = 'host name'});
is($r->{sqlstate}, '22023', 'a malformed entry is refused');
$r = ps_try($node, q{ALTER SYSTEM SET provsecret.outbound_allowed_hosts = '127.0.0.1:99999'});
is($r->{sqlstate}, '22023', 'a port out of range is refused');
ps_sql($node, q{CREATE ROLE policy_user LOGIN; GRANT USAGE ON SCHEMA provsecret TO policy_user});
$r = ps_try($node, q{SET ROLE policy_user; SET provsecret.outbound_allowed_hosts = '127.0.0.1'});
is($r->{sqlstate}, '42501', 'only a superuser may set it');

$node->stop;
$fb->stop;
done_testing();
