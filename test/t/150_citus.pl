# Citus (contract §10, docs/citus.md): a coordinator and two worker nodes on
# this machine, provsecret's tables distributed by docs/citus/distribute.sql
# exactly as an operator would, then seal, resolve, rotate, attach, grant
# checks and the audit chains, all through the coordinator.  The workers
# hold no root key: they store ciphertexts and wrapped keys only.
#
# Optional: Citus is not in Debian's archive.  Skipped, saying so, unless
# citus.so is installed in the PostgreSQL this runs (scripts/build-citus
# builds and installs it from a Citus source tree).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use Encode;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "Citus is not installed in $pkglibdir (not in Debian's archive; "
  . 'scripts/build-citus builds it from a Citus source tree)'
  unless -f "$pkglibdir/citus.so";

my $source = $ENV{PROVSECRET_SOURCE_DIR} // "$FindBin::RealBin/../..";
my $key    = random_key();

# REST on the coordinator, with a token of scripts/dev-token.mjs
my $jwt   = PostgreSQL::Test::Utils::tempdir;
my $token = `node "$source/scripts/dev-token.mjs" "$jwt" citus-user 600`;
chomp $token;
die 'no token' unless $token =~ /^[\w-]+\.[\w-]+\.[\w-]+$/;
my $rest_port = PostgreSQL::Test::Cluster::get_free_port();

# Citus first in the list, as it requires.  REST only on the coordinator.
sub citus_node
{
	my ($name, @rest) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'citus,provsecret'",
		(@rest ? @rest : "provsecret.rest_listen_addresses = ''"),
		'max_prepared_transactions = 20',
		# the shards' row-level security reads access_grant, a reference table
		'citus.allow_nested_distributed_execution = on',
		'citus.enable_unsafe_triggers = on',
		"log_statement = 'none'"));
	return $node;
}

my $coordinator = citus_node('coordinator',
	"provsecret.rest_listen_addresses = '127.0.0.1'",
	"provsecret.rest_port = $rest_port",
	"provsecret.jwt_issuer = 'http://localhost/realms/dev'",
	"provsecret.jwt_audience = 'provsecret'",
	"provsecret.jwt_jwks_file = '$jwt/jwks.json'",
	"provsecret.outbound_allowed_hosts = '127.0.0.1:8200'");
my @workers = (citus_node('worker1'), citus_node('worker2'));
ok(ps_start($coordinator, key => $key), 'the coordinator starts with the root key');
ok(ps_start($_), $_->name . ' starts without any root key') for @workers;

$_->safe_psql('postgres', 'CREATE EXTENSION citus') for ($coordinator, @workers);
$coordinator->safe_psql('postgres', sprintf(
	q{SELECT citus_set_coordinator_host('%s', %d);}, $coordinator->host, $coordinator->port)
	  . join('', map { sprintf(q{SELECT citus_add_node('%s', %d);}, $_->host, $_->port) } @workers));

# CREATE EXTENSION on the coordinator is propagated by Citus, prepared and
# committed on every worker in two phases.
ps_sql($coordinator, 'CREATE EXTENSION provsecret');
is(ps_sql($_, q{SELECT extversion FROM pg_extension WHERE extname = 'provsecret'}),
	ps_sql($coordinator, q{SELECT extversion FROM pg_extension WHERE extname = 'provsecret'}),
	'Citus created provsecret on ' . $_->name) for @workers;

# Rows written before distribution: distribution copies them into shards.
my %value = (
	before => random_text('citus-before-', 24),
	lone   => random_text('citus-lone-', 24),
	again  => random_text('citus-again-', 24),
	app    => random_text('citus-app-', 24),
	beta   => random_text('citus-beta-', 24));
ps_sql($coordinator, qq{
	SELECT provsecret.register_company('acme');
	SELECT provsecret.register_company('beta');
	SELECT provsecret.seal('managed:company/acme/before', '$value{before}');
	SELECT provsecret.seal('managed:project/lone/k', '$value{lone}');
	CREATE ROLE app LOGIN;
	GRANT provsecret_service TO app;
	SELECT provsecret."grant"('db:app', 'company/acme', ARRAY['describe', 'read', 'write']);
});

# The operator's script, as shipped.
my ($rc, $out, $err) = $coordinator->psql('postgres', undef,
	extra_params => [ '-f', "$source/docs/citus/distribute.sql" ]);
is($rc, 0, 'docs/citus/distribute.sql runs') or diag $err;
is(ps_sql($coordinator, q{
	SELECT string_agg(logicalrelid::regclass::text || ':' || partmethod::text
	                  || coalesce(':' || column_to_column_name(logicalrelid, partkey), ''),
	                  ' ' ORDER BY logicalrelid::regclass::text)
	  FROM pg_dist_partition}),
	join(' ',
		'provsecret.access_grant:n',
		'provsecret.ai_provider_secret:h:company',
		'provsecret.ai_provider_secret_version:h:company',
		'provsecret.bound_secret:h:company',
		'provsecret.company:n',
		'provsecret.data_key:h:company',
		'provsecret.project:n',
		'provsecret.resolver:n',
		'provsecret.workspace_binding:h:company'),
	'tenant tables are distributed by company, the directory and grants are reference tables');
is(ps_sql($coordinator, q{
	SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'}),
	'1', 'the distributed tables are colocated');

# Resolve reads through the planner: the coordinator's own copy is empty.
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:company/acme/before', $value{before})), 't',
	'a secret sealed before distribution resolves from its shard');
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:project/lone/k', $value{lone})), 't',
	'so does a company-less project\'s');
ps_sql($coordinator, qq{SELECT provsecret.seal('managed:company/acme/before', '$value{again}')});
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:company/acme/before', $value{again})), 't',
	'a rotation through the coordinator is what resolve returns next');
is(ps_sql($coordinator, q{SELECT string_agg(value_version::text, ',' ORDER BY value_version)
	FROM provsecret.versions('managed:company/acme/before')}), '1,2', 'the kept version is listed');

# Many companies: their rows spread over both workers.
ps_sql($coordinator, q{
	SELECT provsecret.register_company('co' || i) FROM generate_series(1, 24) i;
	SELECT provsecret.seal('managed:company/co' || i || '/k' || j, 'canary-' || i || '-' || j)
	  FROM generate_series(1, 24) i, generate_series(1, 3) j;
});
is(ps_sql($coordinator, q{
	SELECT count(*) FILTER (WHERE provsecret.resolve('managed:company/co' || i || '/k' || j)
	                               = 'canary-' || i || '-' || j)
	  FROM generate_series(1, 24) i, generate_series(1, 3) j}),
	'72', 'every one of 72 secrets of 24 companies resolves to its own value');
is(ps_sql($coordinator, q{
	SELECT count(DISTINCT p.nodeport)
	  FROM run_command_on_placements('provsecret.ai_provider_secret',
	                                 'SELECT count(*) FROM %s') p
	 WHERE p.success AND p.result::int > 0}),
	'2', 'the secrets live on both workers');
is(ps_sql($coordinator, q{
	SELECT sum(result::int) FROM run_command_on_shards('provsecret.ai_provider_secret',
	                                                   'SELECT count(*) FROM %s')}),
	ps_sql($coordinator, 'SELECT count(*) FROM provsecret.ai_provider_secret'),
	'the shards hold every secret the coordinator lists');

# A caller with grants on one company, through a SQL role.
ps_sql($coordinator, qq{SET ROLE app; SELECT provsecret.seal('managed:company/acme/app', '$value{app}')});
is(ps_sql($coordinator, 'SET ROLE app; SELECT ' . resolves_to('managed:company/acme/app', $value{app})), 't',
	'a granted role seals and resolves its company\'s secret');
ps_sql($coordinator, qq{SELECT provsecret.seal('managed:company/beta/k', '$value{beta}')});
my $r = ps_try($coordinator, q{SET ROLE app; SELECT provsecret.resolve('managed:company/beta/k')});
is($r->{sqlstate}, '42501', 'another company\'s secret is refused (42501)');
is(ps_sql($coordinator, q{SET ROLE app;
	SELECT string_agg(DISTINCT coalesce(company, '-'), ',') FROM provsecret.secrets}),
	'acme', 'the secrets view shows the role only its company, evaluated on the shards');

# Data-key rotation of one company: its ciphertexts move to the new key.
is(ps_sql($coordinator, q{SELECT provsecret.rotate_data_key('company/acme')}), '3',
	'rotating acme\'s data key re-encrypts its 2 secrets and 1 kept version');
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:company/acme/before', $value{again})), 't',
	'and they still resolve');
is(ps_sql($coordinator, q{SELECT sum(data_keys) FROM provsecret.key_status}),
	ps_sql($coordinator, 'SELECT count(*) FROM provsecret.data_key'),
	'key_status counts every data key across shards');
is(ps_sql($coordinator, q{SELECT provsecret.rollback('managed:company/acme/before', 1)}), '3',
	'rollback to a kept version writes version 3');
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:company/acme/before', $value{before})), 't',
	'which holds version 1\'s value');

# Attaching the company-less project moves its rows between shards.
ps_sql($coordinator, q{SELECT provsecret.register_project('lone', 'acme')});
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:project/lone/k', $value{lone})), 't',
	'after attaching lone to acme its secret resolves');
is(ps_sql($coordinator, q{
	SELECT (SELECT count(*) FROM provsecret.ai_provider_secret WHERE company = '~lone')
	     + (SELECT count(*) FROM provsecret.data_key WHERE company = '~lone')}),
	'0', 'and nothing is left under its own company');

# REST on the coordinator: a workspace of acme, a reveal and a listing.
my %rest_value = (k => random_text('citus-rest-', 24), k2 => random_text('citus-rest2-', 24));
ps_sql($coordinator, qq{
	SELECT provsecret.register_project('ws1', 'acme');
	SELECT provsecret.seal('managed:project/ws1/k', '$rest_value{k}');
	SELECT provsecret."grant"('user:citus-user', 'project/ws1', ARRAY['describe', 'read']);
});
# The project directory is a reference table: its triggers fire on the
# coordinator's placement, and the session's project cache learns at once.
is(ps_sql($coordinator, q{SELECT company FROM provsecret.secrets WHERE reference = 'managed:project/ws1/k'}),
	'acme', 'a seal right after registering the project in the same session lands in its company');
my $url = "http://127.0.0.1:$rest_port";
ok(rest_ready($url), 'the coordinator serves REST');
my $get = sub {
	my ($path, $id) = @_;
	$id //= 'citus-other';
	my $out = `curl -s -w '\\n%{http_code}' -H 'X-Request-Id: $id' -H 'Authorization: Bearer $token' $url$path`;
	my ($body, $code) = $out =~ /\A(.*)\n(\d+)\z/s or die "no answer from REST for $path";
	return ($code, $code eq '200' ? decode_json($body) : undef);
};
my ($code, $doc) = $get->('/v1/workspaces/ws1/secrets/k', 'citus-reveal');
is($code, '200', 'a REST reveal through the coordinator answers 200');
is(sha256_hex(Encode::encode('UTF-8', $doc ? $doc->{value} : '')),
	sha256_hex(Encode::encode('UTF-8', $rest_value{k})), 'with the value sealed (compared by digest)');
($code, $doc) = $get->('/v1/workspaces/ws1/secrets');
is(join(',', $code, map { $_->{key} } @{ $doc ? $doc->{secrets} : [] }), '200,k',
	'the workspace listing shows its key');
($code) = $get->('/v1/workspaces/lone/secrets/k');
is($code, '403', 'a workspace without grants is refused');
ps_sql($coordinator, qq{SELECT provsecret.seal('managed:project/ws1/k2', '$rest_value{k2}')});
($code, $doc) = $get->('/v1/workspaces/ws1/secrets');
is(join(',', $code, sort map { $_->{key} } @{ $doc ? $doc->{secrets} : [] }), '200,k,k2',
	'the next listing shows a new key (no kept answer outlives a write on the shards)');
ps_sql($coordinator, q{SELECT provsecret.revoke('user:citus-user', 'project/ws1', ARRAY['read'])});
($code) = $get->('/v1/workspaces/ws1/secrets/k2');
is($code, '403', 'a revoke takes effect in the running REST worker at once');
$coordinator->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM provsecret.audit_log
	 WHERE action = 'secret.revealed' AND channel = 'rest'
	   AND request_id = 'citus-reveal' AND outcome = 'ok'})
  or diag 'no audit event for the REST reveal';
is(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.audit_log
	 WHERE action = 'secret.revealed' AND channel = 'rest'
	   AND request_id = 'citus-reveal' AND outcome = 'ok'}),
	'1', 'the reveal has its audit event');

# A workspace bound to a backend, bound twice (the second an update on
# its shard), then unbound: the binding lives in acme's shard.
ps_sql($coordinator, q{
	SELECT provsecret.create_resolver('acme_vault', 'company/acme', 'vault-kv2', 'http://127.0.0.1:8200');
	SELECT provsecret.register_project('bound1', 'acme');
	SELECT provsecret.bind_workspace('bound1', 'acme_vault');
	SELECT provsecret.bind_workspace('bound1', 'acme_vault');
});
is(ps_sql($coordinator, q{SELECT project || ':' || company || ':' || resolver FROM provsecret.workspace_bindings}),
	'bound1:acme:acme_vault', 'a workspace binds (and binds again) to a resolver of its company');
ps_sql($coordinator, q{SELECT provsecret.unbind_workspace('bound1')});
is(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.workspace_bindings}), '0', 'and unbinds');

ps_sql($coordinator, q{SELECT provsecret.delete_secret('managed:company/co1/k1')});
is(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:company/co1/k1'}),
	'0', 'delete removes the secret from its shard');

# Nothing audited is done on a worker: its events would never reach the
# coordinator's chain.
for my $change (
	[ 'a registration', q{SELECT provsecret.register_company('on_worker')} ],
	[ 'a delete',       q{SELECT provsecret.delete_secret('managed:company/co2/k1')} ],
	[ 'a grant',        q{SELECT provsecret."grant"('db:app', 'company/co2', ARRAY['read'])} ])
{
	$r = ps_try($workers[1], $change->[1]);
	is($r->{sqlstate}, '0A000', "$change->[0] on a worker node is refused (0A000)");
}
is(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:company/co2/k1'}),
	'1', 'and the secret is still there');

# The workers cannot decrypt: they never had the key.
$r = ps_try($workers[0], q{SELECT provsecret.resolve('managed:company/acme/before')});
is($r->{sqlstate}, '55000', 'a worker has no root key and resolves nothing (55000)');

# One audit chain per company, each verified.
is(ps_sql($coordinator, q{SELECT count(*) FILTER (WHERE NOT ok) FROM provsecret.verify_audit_chain()}),
	'0', 'every audit chain verifies');
cmp_ok(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.verify_audit_chain()}), '>=', 26,
	'one chain per company');

# Rotating the root key: the coordinator restarts with a new key and the
# old one as previous, and rewrap() re-wraps every data key on the shards.
my $new_key = random_key();
ok(ps_restart($coordinator, key => $new_key, previous => $key), 'the coordinator restarts with a new root key');
cmp_ok(ps_sql($coordinator, q{SELECT provsecret.rewrap()}), '>', 0, 'rewrap() re-wraps the data keys on the shards');
is(ps_sql($coordinator, q{SELECT count(*) FROM provsecret.data_key
	WHERE root_key_fingerprint <> (SELECT root_key_fingerprint FROM provsecret.key_status WHERE root_key = 'current')}),
	'0', 'none is left under the old key');
ok(ps_restart($coordinator, key => $new_key), 'and restarts with the new key alone');
is(ps_sql($coordinator, 'SELECT ' . resolves_to('managed:company/acme/before', $value{before})), 't',
	'secrets resolve under the new root key');

# No value in any node's log.
for my $node ($coordinator, @workers)
{
	my $log = slurp_file($node->logfile);
	ok(!(grep { leaks($log, $_) } values(%value), values(%rest_value)),
		'no value in the log of ' . $node->name);
}

$_->stop for (@workers, $coordinator);
done_testing();
