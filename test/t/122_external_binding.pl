# bind_workspace (DESIGN §9): a bound workspace's managed:project/<p>/<name>
# secrets are sealed into, revealed from and deleted in the resolver's
# backend (live stand-ins of Vault KV v2 and Infisical), with the same
# permissions and audit events as managed storage and the resolver named;
# listing needs only Postgres; an http-json backend is read-only; a dead
# backend is 58030; unbind goes back to managed storage.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

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

my $node = ps_node('binding', 2,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'",
	'provsecret.env_allowlist' => "'PS_TEST_JSON_TOKEN'");
ok(ps_start($node, key => random_key(), env => { PS_TEST_JSON_TOKEN => $json_token }),
	'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $base = $fb->url;
# the tokens are sealed before the bindings: they stay in managed storage
ps_sql($node, qq{
	SELECT provsecret.register_company('acme');
	SELECT provsecret.register_project('ws1', 'acme');
	SELECT provsecret.register_project('ws2', 'acme');
	SELECT provsecret.register_project('ws3', 'acme');
	SELECT provsecret.register_project('other', NULL);
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:company/acme/infisical-token', '$inf_token');
	SELECT provsecret.create_resolver('vault', 'project/ws1', 'vault-kv2', '$base',
		'{"timeout_ms":1500}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('inf', 'company/acme', 'infisical', '$base',
		'{"project_id":"ws-1","environment":"dev"}', 'managed:company/acme/infisical-token');
	SELECT provsecret.create_resolver('hj', 'project/ws3', 'http-json', '$base/json',
		'{}', 'env:PS_TEST_JSON_TOKEN');
	SELECT provsecret.create_resolver('elsewhere', 'project/other', 'vault-kv2', '$base');
});
my $log_start = -s $node->logfile;

# --- binding ---------------------------------------------------------------------
my $r = ps_try($node, "SELECT provsecret.bind_workspace('ws1', 'elsewhere')");
is($r->{sqlstate}, '22023', "a resolver of another project cannot be bound");
$r = ps_try($node, "SELECT provsecret.bind_workspace('ws1', 'nope')");
is($r->{sqlstate}, 'P0002', 'an unknown resolver is P0002');
ps_sql($node, q{CREATE ROLE bind_writer; GRANT USAGE ON SCHEMA provsecret TO bind_writer;
	SELECT provsecret.grant('db:bind_writer', 'project/ws1', ARRAY['describe', 'read', 'write']);
	CREATE ROLE bind_viewer; GRANT USAGE ON SCHEMA provsecret TO bind_viewer;
	SELECT provsecret.grant('db:bind_viewer', 'project/ws1', ARRAY['describe'])});
$r = ps_try($node, "SET ROLE bind_writer; SELECT provsecret.bind_workspace('ws1', 'vault')");
is($r->{sqlstate}, '42501', 'binding needs manage on the project');

ps_sql($node, q{SELECT provsecret.bind_workspace('ws1', 'vault');
	SELECT provsecret.bind_workspace('ws2', 'inf');
	SELECT provsecret.bind_workspace('ws3', 'hj')});
is(ps_sql($node, q{SELECT string_agg(project || '=' || resolver, ',' ORDER BY project)
	FROM provsecret.workspace_bindings}), 'ws1=vault,ws2=inf,ws3=hj', 'workspace_bindings lists them');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log
	WHERE action = 'workspace.bound' AND project = 'ws1' AND detail = 'resolver vault'}),
	'1', 'binding is audited, naming the resolver');

# --- vault-kv2: seal, reveal, rotate, list, delete --------------------------------
my $v1 = random_text('sk-bound-vault-canary-', 24);
my $v2 = random_text('sk-bound-vault-canary-', 24);
is(ps_sql($node, "SET ROLE bind_writer; SELECT provsecret.seal('managed:project/ws1/openai', '$v1', 'OpenAI key')"),
	'managed:project/ws1/openai', 'seal into the bound workspace (write is enough)');
is(ps_sql($node, "SELECT provsecret.resolve('external:vault/openai')"), $v1,
	'the value is in Vault, at data.data.value of <name>');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.ai_provider_secret WHERE project = 'ws1' AND name = 'openai'}),
	'0', 'no ciphertext row for it');
is(ps_sql($node, "SET ROLE bind_writer; SELECT provsecret.resolve('managed:project/ws1/openai')"), $v1,
	'resolve reads it back from the backend');
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/openai', '$v2')");
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws1/openai')"), $v2,
	'a second seal replaces the value');
is(ps_sql($node, q{SET ROLE bind_viewer; SELECT name || ':' || coalesce(description, '-') || ':' || value_version
	FROM provsecret.secrets WHERE project = 'ws1' ORDER BY name}),
	"openai:OpenAI key:2\nvault-token:-:1",
	'the secrets view lists bound secrets from metadata (describe is enough), the description kept');
is(ps_sql($node, q{SELECT string_agg(action || '/' || value_version || '/' || outcome || '/' || detail, ',' ORDER BY id)
	FROM provsecret.audit_log WHERE reference = 'managed:project/ws1/openai'}),
	'secret.sealed/1/ok/resolver vault,secret.revealed/1/ok/resolver vault,'
	  . 'secret.rotated/2/ok/resolver vault,secret.revealed/2/ok/resolver vault',
	'sealed, revealed and rotated are audited with the version and the resolver');

$r = ps_try($node, "SET ROLE bind_viewer; SELECT provsecret.resolve('managed:project/ws1/openai')");
is($r->{sqlstate}, '42501', 'describe cannot reveal a bound secret');
ok(!leaks($r->{err} . $r->{out}, $v2), '... and no value is shown');
$r = ps_try($node, "SET ROLE bind_viewer; SELECT provsecret.seal('managed:project/ws1/openai', 'x')");
is($r->{sqlstate}, '42501', 'describe cannot seal into a bound workspace');
my $before = $fb->requests('/v1');
ps_sql($node, q{SELECT count(*) FROM provsecret.secrets});
is($fb->requests('/v1'), $before, 'listing does not call the backend');

is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/ws1/openai')"), 't',
	'delete_secret deletes it');
$r = ps_try($node, "SELECT provsecret.resolve('managed:project/ws1/openai')");
is($r->{sqlstate}, 'P0002', 'then resolve is P0002');
$r = ps_try($node, "SELECT provsecret.resolve('external:vault/openai')");
is($r->{sqlstate}, 'P0002', '... and Vault no longer has it');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/ws1/openai'}),
	'0', '... nor the listing');
is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/ws1/openai')"), 'f',
	'a second delete is false');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log WHERE action = 'secret.deleted'
	AND reference = 'managed:project/ws1/openai' AND detail = 'resolver vault'}), '1',
	'the delete is audited once, naming the resolver');

# --- infisical (a company resolver: the project is the folder) ----------------------
my $i1 = random_text('sk-bound-inf-canary-', 24);
my $i2 = random_text('sk-bound-inf-canary-', 24);
ps_sql($node, "SELECT provsecret.seal('managed:project/ws2/API_KEY', '$i1', 'from infisical')");
is(ps_sql($node, "SELECT provsecret.resolve('external:inf/ws2/API_KEY')"), $i1,
	'infisical: created (POST) under /ws2');
ps_sql($node, "SELECT provsecret.seal('managed:project/ws2/API_KEY', '$i2')");
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws2/API_KEY')"), $i2,
	'infisical: updated (PATCH) and read back');
is(ps_sql($node, q{SELECT description || ':' || value_version FROM provsecret.secrets
	WHERE reference = 'managed:project/ws2/API_KEY'}), 'from infisical:2', 'listed with its metadata');
is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/ws2/API_KEY')"), 't', 'infisical: deleted');
$r = ps_try($node, "SELECT provsecret.resolve('external:inf/ws2/API_KEY')");
is($r->{sqlstate}, 'P0002', '... gone from the backend');
is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/ws2/API_KEY')"), 'f',
	'infisical: a second delete is false');

# --- http-json is read-only ----------------------------------------------------------
$r = ps_try($node, "SELECT provsecret.seal('managed:project/ws3/x', 'sk-nope')");
is($r->{sqlstate}, '0A000', 'sealing into an http-json binding is refused');
like($r->{message}, qr/bound to resolver hj, an http-json backend, which is read-only/, '... saying why');
$fb->json_put('k', { value => 'json-read-ok' });
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws3/k')"), 'json-read-ok',
	'but it can be read through');

# --- backend down ------------------------------------------------------------------
my $refused = $fb->refused_url;
ps_sql($node, "SELECT provsecret.alter_resolver('vault', base_url => '$refused')");
for my $sql ("SELECT provsecret.seal('managed:project/ws1/down', 'sk-down-canary')",
	"SELECT provsecret.resolve('managed:project/ws1/down')",
	"SELECT provsecret.delete_secret('managed:project/ws1/down')")
{
	$r = ps_try($node, $sql);
	my ($call) = $sql =~ /provsecret\.(\w+)/;
	is($r->{sqlstate}, '58030', "backend down: 58030 ($call)");
	like($r->{message}, qr/^external resolver vault: /, '... naming the resolver');
	ok($r->{err} !~ /127\.0\.0\.1/ && !leaks($r->{err}, $vault_token) && !leaks($r->{err}, 'sk-down-canary'),
		'... without URL, token or value');
}
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE name = 'down'}), '0',
	'a failed seal leaves no metadata');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log WHERE reference = 'managed:project/ws1/down'
	AND outcome = 'error' AND detail LIKE 'resolver vault: backend call failed%'}), '3',
	'the failures are audited with the resolver and the reason');
ps_sql($node, "SELECT provsecret.alter_resolver('vault', base_url => '$base')");

# --- a bound resolver cannot be dropped; unbind goes back to managed storage ----------
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/kept', 'sk-kept-canary')");
$r = ps_try($node, "SELECT provsecret.drop_resolver('vault')");
is($r->{sqlstate}, '55006', 'a bound resolver cannot be dropped (55006, object in use)');
like($r->{message} // '', qr/is bound to workspace/, 'the error names the binding');
$r = ps_try($node, "SET ROLE bind_writer; SELECT provsecret.unbind_workspace('ws1')");
is($r->{sqlstate}, '42501', 'unbinding needs manage');
is(ps_sql($node, "SELECT provsecret.unbind_workspace('ws1')"), 't', 'unbind_workspace');
is(ps_sql($node, "SELECT provsecret.unbind_workspace('ws1')"), 'f', '... a second time is false');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/ws1/kept'}),
	'0', 'the bound metadata is forgotten');
is(ps_sql($node, "SELECT provsecret.resolve('external:vault/kept')"), 'sk-kept-canary',
	'... while the value stays in the backend');
my $m = random_text('sk-managed-canary-', 24);
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/openai', '$m')");
is(ps_sql($node, q{SELECT count(*) FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/ws1/openai'}),
	'1', 'after unbind, a seal is managed storage again');
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws1/openai')"), $m, '... and resolves from it');
$r = ps_try($node, "SELECT provsecret.resolve('external:vault/openai')");
is($r->{sqlstate}, 'P0002', '... without touching the backend');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.audit_log WHERE action = 'workspace.unbound' AND project = 'ws1'}),
	'1', 'unbinding is audited');

# managed secrets sealed before a binding stay managed
ps_sql($node, "SELECT provsecret.bind_workspace('ws1', 'vault')");
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/openai', '$v1')");
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/ws1/openai')"), $v1,
	'a managed secret sealed before the binding is rotated in place');
$r = ps_try($node, "SELECT provsecret.resolve('external:vault/openai')");
is($r->{sqlstate}, 'P0002', '... not copied to the backend');
ps_sql($node, "SELECT provsecret.unbind_workspace('ws1')");

# --- nothing sent or received reaches the log -----------------------------------------
my $log = log_since($node, $log_start);
ok(!grep({ leaks($log, $_) } $v1, $v2, $i1, $i2, $m, $vault_token, $inf_token, $json_token),
	'no token or value in the server log');

$node->stop;
$fb->stop;
done_testing();
