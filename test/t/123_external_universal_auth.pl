# Infisical universal-auth (resolver option client_id): auth_reference names
# the machine identity's client secret; the resolver logs in at
# /api/v1/auth/universal-auth/login and keeps the access token per session
# until shortly before it expires, logs in again after that or once after a
# 401; a wrong client secret is 58030 naming the resolver, never the secret.
# The stand-in Infisical (test/fake-backends) issues access tokens that
# really lapse and counts logins.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $client_secret = random_text('cs-canary-', 24);
my $fb = FakeBackends->start(
	vault_token => random_text('vt-', 24),
	infisical_token => random_text('st-', 24),
	json_token => random_text('jt-', 24),
	infisical_client_id => 'machine-1',
	infisical_client_secret => $client_secret,
	infisical_token_ttl => 3600);

my $node = ps_node('universal_auth', 3,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'");
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $value = random_text('sk-ua-canary-', 24);
$fb->infisical_create('OPENAI_API_KEY', workspaceId => 'ws-1', environment => 'prod',
	secretPath => '/llm', secretValue => $value);
my $base = $fb->url;
ps_sql($node, qq{
	SELECT provsecret.register_company('acme');
	SELECT provsecret.seal('managed:company/acme/inf-client-secret', '$client_secret');
	SELECT provsecret.create_resolver('ua', 'company/acme', 'infisical', '$base',
		'{"project_id":"ws-1","client_id":"machine-1"}', 'managed:company/acme/inf-client-secret');
});
my $log_start = -s $node->logfile;
my $ref = 'external:ua/llm/OPENAI_API_KEY';

my $r = ps_try($node, qq{SELECT provsecret.create_resolver('ua2', 'company/acme', 'infisical',
	'$base', '{"project_id":"ws-1","client_id":"machine-1"}')});
is($r->{sqlstate}, '22023', 'client_id without an auth_reference is refused');
like($r->{message}, qr/client_id .* no auth_reference/, '... saying why');
$r = ps_try($node, qq{SELECT provsecret.create_resolver('ua3', 'company/acme', 'infisical',
	'$base', '{"project_id":"ws-1","client_id":"a b"}', 'managed:company/acme/inf-client-secret')});
is($r->{sqlstate}, '22023', 'a client_id with a space is refused');
is(ps_sql($node, q{SELECT options->>'client_id' FROM provsecret.resolvers WHERE name = 'ua'}),
	'machine-1', 'the resolvers view shows the client id (not a credential)');

# --- one login across several resolves ---------------------------------------
my $check = 'SELECT ' . resolves_to($ref, $value) . ';';
is(ps_sql($node, $check x 3), join("\n", ('t') x 3),
	'three resolves through universal-auth');
is($fb->counter('logins'), 1, '... with one login');

# --- proactive re-login before expiry ---------------------------------------------
# a 3 s token is kept until 1 s before it lapses
$fb->infisical_control(tokenTtl => 3);
my $session = $node->background_psql('postgres', on_error_stop => 0);
is($session->query_safe('SELECT ' . resolves_to($ref, $value)), 't', 'a new session logs in');
is($fb->counter('logins'), 2, '... (the token cache is per session)');
is($session->query_safe('SELECT ' . resolves_to($ref, $value)), 't', 'a second resolve');
is($fb->counter('logins'), 2, '... reuses the token');
sleep 3;
is($session->query_safe('SELECT ' . resolves_to($ref, $value)), 't',
	'after the token expired, the resolve works');
is($fb->counter('logins'), 3, '... after logging in again');
is($fb->counter('unauthorized'), 0, '... before the token lapsed (no 401 seen)');

# --- a 401 to a cached token: log in once more ------------------------------------
$fb->infisical_control(tokenTtl => 3600);
is($session->query_safe('SELECT ' . resolves_to($ref, $value)), 't', 'a fresh long-lived token');
my $logins = $fb->counter('logins');
$fb->infisical_control(revoke => 1);
is($session->query_safe('SELECT ' . resolves_to($ref, $value)), 't',
	'after the backend revoked every token, the resolve still works');
is($fb->counter('unauthorized'), 1, '... the revoked token got one 401');
is($fb->counter('logins'), $logins + 1, '... and one new login followed');
$session->quit;

# --- altering the resolver drops its cached token ----------------------------------
ps_sql($node, q{SELECT provsecret.alter_resolver('ua', options => '{"project_id":"ws-1","client_id":"machine-1","timeout_ms":3000}')});
$logins = $fb->counter('logins');
is(ps_sql($node, 'SELECT ' . resolves_to($ref, $value)), 't', 'resolve after alter_resolver');
is($fb->counter('logins'), $logins + 1, '... logs in');

# --- wrong client secret ------------------------------------------------------------
my $wrong = random_text('cs-wrong-canary-', 24);
ps_sql($node, "SELECT provsecret.seal('managed:company/acme/inf-client-secret', '$wrong')");
my $failures = $fb->counter('loginFailures');
$r = ps_try($node, "SELECT provsecret.resolve('$ref')");
is($r->{sqlstate}, '58030', 'a wrong client secret is 58030');
like($r->{message}, qr/^external resolver ua: universal-auth login refused the client credentials \(HTTP 401\)/,
	'... naming the resolver and the refused login');
ok(!leaks($r->{err}, $wrong) && !leaks($r->{err}, $client_secret), '... without the secret in the error');
is($fb->counter('loginFailures'), $failures + 1, '... after one refused login');
is(ps_sql($node, qq{SELECT count(*) FROM provsecret.audit_log WHERE reference = '$ref'
	AND outcome = 'error' AND detail LIKE 'resolver ua: universal-auth login refused%'}),
	'1', 'the failure is audited with the resolver named');

# the stand-in refuses a token it did not issue, whatever the session cached
ps_sql($node, "SELECT provsecret.seal('managed:company/acme/inf-client-secret', '$client_secret')");
is(ps_sql($node, 'SELECT ' . resolves_to($ref, $value)), 't', 'the right secret again: resolves');

# --- a login endpoint that fails is 58030 too ------------------------------------------
ps_sql($node, qq{SELECT provsecret.create_resolver('ua-down', 'company/acme', 'infisical',
	'$base/fault/500', '{"project_id":"ws-1","client_id":"machine-1","breaker_failures":0}',
	'managed:company/acme/inf-client-secret')});
$r = ps_try($node, "SELECT provsecret.resolve('external:ua-down/llm/OPENAI_API_KEY')");
is($r->{sqlstate}, '58030', 'a login answered with HTTP 500 is 58030');
like($r->{message}, qr/^external resolver ua-down: universal-auth login answered HTTP 500/, '... saying so');

my $log = log_since($node, $log_start);
ok(!leaks($log, $client_secret) && !leaks($log, $wrong) && !leaks($log, $value),
	'neither the client secret nor the value in the server log');
ok($log !~ /ua\.[A-Za-z0-9_-]{20}/, 'no access token in the server log');

$node->stop;
$fb->stop;
done_testing();
