# Using a resolver's auth_reference is a reveal of it: every request that
# carries the token (or, with Infisical universal-auth, the client secret
# at login and each access token obtained with it) leaves a durable
# secret.used event naming the auth_reference, with the caller's principal
# and channel, written before the request goes out; if the event cannot be
# recorded, nothing is sent.  A value served from the resolver's cache
# sends nothing and uses nothing.  audit_level = summary keeps uses
# individual.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use PostgreSQL::Test::Utils;
use Test::More;

use AuditNode;
use FakeBackends;
use ProvsecretTest;

my $vault_token   = random_text('vt-canary-', 24);
my $json_token    = random_text('jt-canary-', 24);
my $client_secret = random_text('cs-canary-', 24);
my $fb = FakeBackends->start(
	vault_token => $vault_token,
	infisical_token => random_text('it-', 24),
	json_token => $json_token,
	infisical_client_id => 'machine-1',
	infisical_client_secret => $client_secret,
	infisical_token_ttl => 3600);

my $node = ps_node('token_use', 8,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'",
	'provsecret.env_allowlist' => "'PS_TEST_JSON_TOKEN'",
	'provsecret.audit_timeout' => "'1s'");
ok(ps_start($node, key => random_key(), env => { PS_TEST_JSON_TOKEN => $json_token }),
	'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $v_value = random_text('sk-vault-canary-', 24);
my $j_value = random_text('sk-json-canary-', 24);
my $i_value = random_text('sk-ua-canary-', 24);
$fb->vault_put('secret', 'team/openai', { value => $v_value });
$fb->json_put('tenants/acme', { value => $j_value });
$fb->infisical_create('OPENAI_API_KEY', workspaceId => 'ws-1', environment => 'prod',
	secretPath => '/llm', secretValue => $i_value);
my $base = $fb->url;
ps_sql($node, qq{
	SELECT provsecret.register_company('acme');
	SELECT provsecret.register_project('ws1', 'acme');
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:company/acme/inf-client-secret', '$client_secret');
	SELECT provsecret.create_resolver('vault', 'project/ws1', 'vault-kv2', '$base',
		'{}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('cached', 'project/ws1', 'vault-kv2', '$base',
		'{"cache_ttl_s":60}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('hj', 'project/ws1', 'http-json', '$base/json',
		'{}', 'env:PS_TEST_JSON_TOKEN');
	SELECT provsecret.create_resolver('ua', 'company/acme', 'infisical', '$base',
		'{"project_id":"ws-1","client_id":"machine-1"}', 'managed:company/acme/inf-client-secret');
	SELECT provsecret.create_resolver('notoken', 'project/ws1', 'vault-kv2', '$base',
		'{"breaker_failures":0}', 'managed:project/ws1/no-such-token');
	CREATE ROLE app LOGIN;
	GRANT USAGE ON SCHEMA provsecret TO app;
	SELECT provsecret.grant('db:app', 'project/ws1', ARRAY['read']);
	SELECT provsecret.grant('db:app', 'company/acme', ARRAY['read']);
});

sub uses
{
	my ($where) = @_;
	return ps_sql($node, "SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.used' AND $where");
}

sub resolve_as_app
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', 'app' ]);
}

# --- a token sent: one event per request, as the caller ----------------------------
is(resolve_as_app('SELECT ' . resolves_to('external:vault/team/openai', $v_value)), 't',
	'app resolves through the vault resolver');
resolve_as_app('SELECT ' . resolves_to('external:vault/team/openai', $v_value));
is(uses(q{reference = 'managed:project/ws1/vault-token' AND principal = 'db:app' AND channel = 'sql'
	AND outcome = 'ok' AND company = 'acme' AND project = 'ws1'
	AND detail = 'resolver vault: sent as the token, for external:vault/team/openai'}),
	'2', 'each of the two calls is a secret.used event naming the auth_reference, the caller and the resolve');
is(ps_sql($node, q{SELECT string_agg(action, ',' ORDER BY id) FROM provsecret.audit_log
	WHERE principal = 'db:app' AND (reference = 'external:vault/team/openai' OR detail LIKE 'resolver vault:%')}),
	'secret.used,secret.revealed,secret.used,secret.revealed',
	'... each recorded before the reveal it served');

is(ps_sql($node, 'SELECT ' . resolves_to('external:hj/tenants/acme', $j_value)), 't',
	'an env: token');
is(uses(q{reference = 'env:PS_TEST_JSON_TOKEN' AND principal = 'db:postgres' AND outcome = 'ok'
	AND detail LIKE 'resolver hj: sent as the token, for external:hj/tenants/acme'}),
	'1', '... is audited as a use of the env: reference');

# --- a cached value sends nothing: no use -------------------------------------------
ps_sql($node, join(';', ('SELECT ' . resolves_to('external:cached/team/openai', $v_value)) x 3));
is(uses(q{detail LIKE 'resolver cached:%'}), '1', 'three resolves, one from the backend, two from the value cache: one use');

# --- universal-auth: the login, then each call with the access token --------------
ps_sql($node, join(';', ('SELECT ' . resolves_to('external:ua/llm/OPENAI_API_KEY', $i_value)) x 3));
is($fb->counter('logins'), 1, 'universal-auth: three resolves, one login');
is(uses(q{reference = 'managed:company/acme/inf-client-secret'
	AND detail = 'resolver ua: sent to universal-auth login, for external:ua/llm/OPENAI_API_KEY'}),
	'1', '... the login is a use of the client secret');
is(uses(q{reference = 'managed:company/acme/inf-client-secret'
	AND detail = 'resolver ua: universal-auth access token sent, for external:ua/llm/OPENAI_API_KEY'}),
	'1', '... so is the first call with the fresh access token');
is(uses(q{reference = 'managed:company/acme/inf-client-secret'
	AND detail = 'resolver ua: universal-auth access token (kept) sent, for external:ua/llm/OPENAI_API_KEY'}),
	'2', '... and each call with the kept access token');

# --- an auth_reference that names no secret ------------------------------------------
my $r = ps_try($node, "SELECT provsecret.resolve('external:notoken/team/openai')");
is($r->{sqlstate}, '58030', 'an auth_reference naming no secret: 58030');
is(uses(q{reference = 'managed:project/ws1/no-such-token' AND outcome = 'not_found'}), '1',
	'... audited as a use with outcome not_found');

# --- fail closed ------------------------------------------------------------------------
my $before = $fb->requests('/v1');
my $worker = audit_worker_pid($node);
kill 'STOP', $worker;
$r = ps_try($node, 'SELECT ' . resolves_to('external:vault/team/openai', $v_value));
kill 'CONT', $worker;
is($r->{sqlstate}, '55000', 'with the audit worker stopped, the resolve fails (55000)');
like($r->{message}, qr/audit event not recorded/, '... because the use could not be recorded');
is($fb->requests('/v1'), $before, '... and no request carried the token');

# --- audit_level = summary: uses stay individual -----------------------------------------
ps_sql($node, q{ALTER SYSTEM SET provsecret.audit_level = 'summary'; SELECT pg_reload_conf()});
my $n = uses(q{detail LIKE 'resolver vault:%'});
ps_sql($node, join(';', ('SELECT ' . resolves_to('external:vault/team/openai', $v_value)) x 2));
is(uses(q{detail LIKE 'resolver vault:%' AND count = 1}), $n + 2,
	'under audit_level = summary, each use is still its own event, at once');

# --- secret_reveals counts uses as reveals of the token -----------------------------
my $token_uses = uses(q{reference = 'managed:project/ws1/vault-token' AND outcome = 'ok'});
ok($token_uses > 0, 'the vault token was used');
is(ps_sql($node, q{SELECT reveal_count FROM provsecret.secret_reveals
	WHERE reference = 'managed:project/ws1/vault-token'}), $token_uses,
	'secret_reveals counts each use of the token as a reveal');

$node->stop;
$fb->stop;
done_testing();
