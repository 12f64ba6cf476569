# external: references through live stand-ins of Vault KV v2, Infisical and
# an http-json store (test/fake-backends): each kind resolves with its token
# taken from a managed: or env: reference; a clean 404 is P0002; a wrong
# token and every fault mode are 58030 within the resolver's timeout, naming
# the resolver and never the token; the reveal is audited with the resolver
# named; nothing sent or received reaches the server log.
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
my $inf_token   = random_text('it-canary-', 24);
my $json_token  = random_text('jt-canary-', 24);
my $fb = FakeBackends->start(
	vault_token => $vault_token,
	infisical_token => $inf_token,
	json_token => $json_token);

my $node = ps_node('external', 2,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'",
	'provsecret.env_allowlist' => "'PS_TEST_JSON_TOKEN'");
ok(ps_start($node, key => random_key(), env => { PS_TEST_JSON_TOKEN => $json_token }),
	'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $v_openai = random_text('sk-vault-canary-', 24);
my $v_pw     = random_text('pw-vault-canary-', 24);
my $i_openai = random_text('sk-inf-canary-', 24);
my $j_value  = random_text('sk-json-canary-', 24);
my @values   = ($v_openai, $v_pw, $i_openai, $j_value);

$fb->vault_put('secret', 'team/openai', { value => 'old-version' });
$fb->vault_put('secret', 'team/openai', { value => $v_openai, password => $v_pw });
$fb->infisical_create('OPENAI_API_KEY', workspaceId => 'ws-1', environment => 'prod',
	secretPath => '/llm/team', secretValue => $i_openai);
$fb->json_put('tenants/acme', { value => 'not-this', creds => { api => [ 'x', $j_value ] } });

my $base = $fb->url;
ps_sql($node, qq{
	SELECT provsecret.register_company('acme');
	SELECT provsecret.register_project('ws1', 'acme');
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:company/acme/infisical-token', '$inf_token');
	SELECT provsecret.create_resolver('vault', 'project/ws1', 'vault-kv2', '$base',
		'{}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('inf', 'company/acme', 'infisical', '$base',
		'{"project_id":"ws-1"}', 'managed:company/acme/infisical-token');
	SELECT provsecret.create_resolver('hj', 'project/ws1', 'http-json', '$base/json',
		'{"pointer":"/creds/api/1"}', 'env:PS_TEST_JSON_TOKEN');
});
my $log_start = -s $node->logfile;

# --- each kind ---------------------------------------------------------------
is(ps_sql($node, "SELECT provsecret.resolve('external:vault/team/openai')"),
	$v_openai, 'vault-kv2: data.data.value of the latest version');
is(ps_sql($node, "SELECT provsecret.resolve('external:vault/team/openai#password')"),
	$v_pw, 'vault-kv2: #field picks data.data.<field>');
is(ps_sql($node, "SELECT provsecret.resolve('external:inf/llm/team/OPENAI_API_KEY')"),
	$i_openai, 'infisical: secret.secretValue, folders from the path');
is(ps_sql($node, "SELECT provsecret.resolve('external:hj/tenants/acme')"),
	$j_value, 'http-json: value at the pointer, token from an env: reference');

for my $missing ('external:vault/team/nope', 'external:inf/llm/team/NOPE',
	'external:hj/tenants/nope')
{
	my $r = ps_try($node, "SELECT provsecret.resolve('$missing')");
	is($r->{sqlstate}, 'P0002', "a clean 404 is P0002 ($missing)");
}
my $r = ps_try($node, "SELECT provsecret.resolve('external:vault/team/openai#nope')");
is($r->{sqlstate}, '58030', 'a missing field is 58030');
like($r->{message}, qr/external resolver vault: .*data\.data\.nope/, '... naming the resolver and the field');

is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND reference = 'external:vault/team/openai'
	  AND outcome = 'ok' AND detail = 'resolver vault' AND project = 'ws1' AND company = 'acme'}),
	'1', 'the reveal is audited with the resolver named');

# --- wrong token ---------------------------------------------------------------
my $wrong = random_text('wrong-canary-', 24);
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/vault-token', '$wrong')");
for my $ref ('external:vault/team/openai')
{
	$r = ps_try($node, "SELECT provsecret.resolve('$ref')");
	is($r->{sqlstate}, '58030', 'a wrong vault token is 58030');
	like($r->{message}, qr/^external resolver vault: backend refused the credentials \(HTTP 403\)/,
		'... saying the backend refused the credentials');
	ok(!leaks($r->{err}, $wrong) && !leaks($r->{err}, $vault_token),
		'... without the token in the error');
}
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token')");

# --- denial --------------------------------------------------------------------
ps_sql($node, q{CREATE ROLE ext_nobody; GRANT USAGE ON SCHEMA provsecret TO ext_nobody;
	SELECT provsecret.grant('db:ext_nobody', 'project/ws1', ARRAY['describe'])});
$r = ps_try($node, "SET ROLE ext_nobody; SELECT provsecret.resolve('external:vault/team/openai')");
is($r->{sqlstate}, '42501', 'describe is not enough to resolve through a resolver');
ok(!leaks($r->{err} . $r->{out}, $v_openai), '... and no value is shown');

# --- faults --------------------------------------------------------------------
my $timeout_ms = 1500;
my %faults = (
	refused => $fb->refused_url,
	hang => "$base/fault/hang",
	'slow' => "$base/fault/slow-4000",
	drip => "$base/fault/drip",
	500 => "$base/fault/500",
	503 => "$base/fault/503",
	reset => "$base/fault/reset",
	truncated => "$base/fault/truncated",
	'bad-json' => "$base/fault/bad-json",
	huge => "$base/fault/huge",
	html => "$base/fault/html",
	redirect => "$base/fault/redirect");
for my $mode (sort keys %faults)
{
	(my $name = "f-$mode") =~ s/[^A-Za-z0-9_.-]/-/g;
	ps_sql($node, qq{SELECT provsecret.create_resolver('$name', 'project/ws1', 'vault-kv2',
		'$faults{$mode}', '{"timeout_ms":$timeout_ms,"breaker_failures":0}',
		'managed:project/ws1/vault-token')});
	my $t0 = time;
	$r = ps_try($node, "SELECT provsecret.resolve('external:$name/team/openai')");
	my $elapsed = time - $t0;
	is($r->{sqlstate}, '58030', "fault $mode: 58030");
	like($r->{message}, qr/^external resolver \Q$name\E: /, "fault $mode: the message names the resolver");
	ok($elapsed < $timeout_ms / 1000 + 1.5, sprintf("fault %s: within the timeout (%.2f s)", $mode, $elapsed));
	ok(!leaks($r->{err}, $vault_token) && $r->{err} !~ /127\.0\.0\.1/,
		"fault $mode: neither the token nor the URL in the error");
}

# failures are audited too (durably: the failing statement rolled back)
is(ps_sql($node, q{SELECT count(DISTINCT detail) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND outcome = 'error' AND detail LIKE 'resolver f-%: %'}),
	scalar(keys %faults), 'every failed reveal is audited with outcome error, the resolver and the reason');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND outcome = 'not_found' AND detail IN ('resolver vault', 'resolver inf', 'resolver hj')}),
	'3', 'a clean 404 is audited with outcome not_found');

# --- nothing sent or received reaches the log -----------------------------------
my $log = log_since($node, $log_start);
ok(!grep({ leaks($log, $_) } @values, $vault_token, $inf_token, $json_token),
	'no token or value in the server log');

$node->stop;
$fb->stop;
done_testing();
