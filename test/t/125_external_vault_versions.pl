# Vault KV v2 extras: the resolver option version reads ?version=N (a
# missing version is P0002); a bound workspace's delete removes the secret
# for good (DELETE metadata/<path>: every version gone) unless the resolver
# has soft_delete, which keeps Vault's soft delete of the latest version
# (older versions stay readable, the key's metadata stays).  Bound reads
# take the latest version whatever the version option says.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $vault_token = random_text('vt-canary-', 24);
my $fb = FakeBackends->start(vault_token => $vault_token,
	infisical_token => random_text('st-', 24), json_token => random_text('jt-', 24));

my $node = ps_node('vault_versions', 5,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'");
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $base = $fb->url;
my @v = map { random_text("sk-v$_-canary-", 20) } 1 .. 3;
$fb->vault_put('secret', 'team/openai', { value => $_ }) for @v;
my $tok = 'managed:project/admin/vault-token';
ps_sql($node, qq{
	SELECT provsecret.register_project('admin', NULL);
	SELECT provsecret.seal('$tok', '$vault_token');
	SELECT provsecret.create_resolver('latest', 'project/admin', 'vault-kv2', '$base', '{}', '$tok');
	SELECT provsecret.create_resolver('v1', 'project/admin', 'vault-kv2', '$base', '{"version":1}', '$tok');
	SELECT provsecret.create_resolver('v2', 'project/admin', 'vault-kv2', '$base', '{"version":2}', '$tok');
	SELECT provsecret.create_resolver('v9', 'project/admin', 'vault-kv2', '$base', '{"version":9}', '$tok');
});

# --- version ------------------------------------------------------------------------
is(ps_sql($node, "SELECT provsecret.resolve('external:latest/team/openai')"), $v[2], 'no version: the latest');
is(ps_sql($node, "SELECT provsecret.resolve('external:v1/team/openai')"), $v[0], 'version 1: ?version=1');
is(ps_sql($node, "SELECT provsecret.resolve('external:v2/team/openai')"), $v[1], 'version 2: ?version=2');
my $r = ps_try($node, "SELECT provsecret.resolve('external:v9/team/openai')");
is($r->{sqlstate}, 'P0002', 'a version Vault does not have: P0002');
is(ps_sql($node, q{SELECT options->>'version' FROM provsecret.resolvers WHERE name = 'v2'}), '2',
	'the resolvers view shows the version');
for my $bad ('{"version":0}', '{"version":-1}', '{"version":"2"}', '{"version":1.5}',
	'{"soft_delete":"yes"}')
{
	$r = ps_try($node, qq{SELECT provsecret.create_resolver('bad', 'project/admin', 'vault-kv2',
		'$base', '$bad')});
	is($r->{sqlstate}, '22023', "options $bad are refused (22023)");
}
$r = ps_try($node, qq{SELECT provsecret.create_resolver('bad', 'project/admin', 'infisical',
	'$base', '{"project_id":"p","version":1}')});
is($r->{sqlstate}, '22023', 'version is a vault-kv2 option only');

# --- bound deletes: for good by default ------------------------------------------------
ps_sql($node, qq{
	SELECT provsecret.register_project('hard', NULL);
	SELECT provsecret.register_project('soft', NULL);
	SELECT provsecret.seal('managed:project/hard/vault-token', '$vault_token');
	SELECT provsecret.seal('managed:project/soft/vault-token', '$vault_token');
	SELECT provsecret.create_resolver('hard-vault', 'project/hard', 'vault-kv2', '$base',
		'{"mount":"kv","version":1}', 'managed:project/hard/vault-token');
	SELECT provsecret.create_resolver('soft-vault', 'project/soft', 'vault-kv2', '$base',
		'{"mount":"team/kv","soft_delete":true}', 'managed:project/soft/vault-token');
	SELECT provsecret.create_resolver('kv-v1', 'project/admin', 'vault-kv2', '$base',
		'{"mount":"kv","version":1}', '$tok');
	SELECT provsecret.create_resolver('team-kv-v1', 'project/admin', 'vault-kv2', '$base',
		'{"mount":"team/kv","version":1}', '$tok');
	SELECT provsecret.bind_workspace('hard', 'hard-vault');
	SELECT provsecret.bind_workspace('soft', 'soft-vault');
});
for my $ws ('hard', 'soft')
{
	ps_sql($node, "SELECT provsecret.seal('managed:project/$ws/key', 'first-$ws')");
	ps_sql($node, "SELECT provsecret.seal('managed:project/$ws/key', 'second-$ws')");
}
is(ps_sql($node, "SELECT provsecret.resolve('managed:project/hard/key')"), 'second-hard',
	'a bound read takes the latest version, whatever the version option');
is(ps_sql($node, "SELECT provsecret.resolve('external:kv-v1/key')"), 'first-hard',
	'Vault keeps both versions');
is(scalar(keys %{ $fb->vault_metadata('kv', 'key')->{data}{versions} }), 2, '... as its metadata says');

my $writes = $fb->counter('writes.vault');
is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/hard/key')"), 't',
	'delete_secret in a bound workspace');
is($fb->counter('writes.vault'), $writes + 1, '... one call to Vault');
is($fb->vault_metadata('kv', 'key'), undef, '... which removed the key and its metadata (DELETE metadata/)');
$r = ps_try($node, "SELECT provsecret.resolve('external:kv-v1/key')");
is($r->{sqlstate}, 'P0002', '... so no older version is readable either');
$r = ps_try($node, "SELECT provsecret.resolve('managed:project/hard/key')");
is($r->{sqlstate}, 'P0002', '... and the secret is gone');

# --- soft_delete: Vault's own soft delete --------------------------------------------
is(ps_sql($node, "SELECT provsecret.delete_secret('managed:project/soft/key')"), 't',
	'delete_secret with soft_delete');
$r = ps_try($node, "SELECT provsecret.resolve('managed:project/soft/key')");
is($r->{sqlstate}, 'P0002', '... the secret reads as gone');
my $meta = $fb->vault_metadata('team/kv', 'key');
ok(defined $meta, '... while Vault keeps the key');
is(scalar(keys %{ $meta->{data}{versions} }), 2, '... with both versions');
ok($meta->{data}{versions}{2}{deletion_time} ne '', '... the latest marked deleted');
is(ps_sql($node, "SELECT provsecret.resolve('external:team-kv-v1/key')"), 'first-soft',
	'... and version 1 still readable');

$node->stop;
$fb->stop;
done_testing();
