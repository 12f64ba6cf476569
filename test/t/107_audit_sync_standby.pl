# Synchronous replication and the audit wait: with synchronous standbys
# configured, a reveal returns its value only once its event is confirmed
# by them.  PostgreSQL's wait for the standby also ends on a cancel or a
# statement_timeout (a WARNING, the commit being local only); the reveal
# then fails closed (55000) instead of returning a value whose event a
# failover could lose.  With a synchronous standby attached, the event is
# on the standby when the value is returned (synchronous_commit =
# remote_apply).  A session's synchronous_commit = local or off does not
# skip the wait.  A REST reveal waiting for the standby when the
# postmaster dies gets no answer (before the fix it got the value).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key   = random_key();
my $value = random_text('sync-canary-', 24);
my $ref   = 'managed:project/p1/sync_a';
my %port;
%port = (port => $ENV{PROVSECRET_TAP_PORT_BASE}) if defined $ENV{PROVSECRET_TAP_PORT_BASE};
my $primary = PostgreSQL::Test::Cluster->new('primary', %port);
$primary->init(allows_streaming => 1);
# REST with a token of scripts/dev-token.mjs (for section 4)
my $jwt = PostgreSQL::Test::Utils::tempdir;
my $source = $ENV{PROVSECRET_SOURCE_DIR} // "$FindBin::RealBin/../..";
my $token = `node "$source/scripts/dev-token.mjs" "$jwt" sync-user 600`;
chomp $token;
die 'no token' unless $token =~ /^[\w-]+\.[\w-]+\.[\w-]+$/;
my $rest_port = PostgreSQL::Test::Cluster::get_free_port();
$primary->append_conf('postgresql.conf', join("\n",
	"shared_preload_libraries = 'provsecret'",
	"provsecret.rest_listen_addresses = '127.0.0.1'",
	"provsecret.rest_port = $rest_port",
	"provsecret.jwt_issuer = 'http://localhost/realms/dev'",
	"provsecret.jwt_audience = 'provsecret'",
	"provsecret.jwt_jwks_file = '$jwt/jwks.json'",
	"provsecret.audit_timeout = '3s'"));
ps_start($primary, key => $key) or die 'primary did not start';
$primary->safe_psql('postgres', "CREATE EXTENSION provsecret");
$primary->safe_psql('postgres', "SELECT provsecret.seal('$ref', '$value')");
$primary->safe_psql('postgres', "SELECT provsecret.grant('user:sync-user', 'project/p1', ARRAY['read'])");
$primary->backup('base');

my $events = sub {
	my ($node) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM provsecret.audit_log
		WHERE action = 'secret.revealed' AND reference = '$ref'});
};

# 1. A synchronous standby that is not there: the statement_timeout ends
# the wait for it.  Before the fix the value came back with a WARNING.
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'absent_standby'");
$primary->reload;
my $r = ps_try($primary,
	"SET statement_timeout = '1s'; SELECT " . resolves_to($ref, $value));
is($r->{sqlstate}, '55000', "cancelled wait for the synchronous standby: 55000 ($r->{message})");
like($r->{message}, qr/audit event not confirmed by the synchronous standby/, 'named as such');
is($r->{hint}, 'The value was not returned.', 'hint: no value');
unlike($r->{out}, qr/^t$/m, 'no value returned');
like($r->{err}, qr/canceling wait for synchronous replication/, "PostgreSQL's own warning precedes it");
is($events->($primary), '1', 'the event is recorded on this server (committed locally)');

# A session cannot trade its event's survival of a failover for speed:
# synchronous_commit = local (or off) still waits for the standby.
$r = ps_try($primary,
	"SET synchronous_commit = local; SET statement_timeout = '1s'; SELECT " . resolves_to($ref, $value));
is($r->{sqlstate}, '55000', "synchronous_commit = local: still waits for the standby, then 55000 ($r->{message})");
unlike($r->{out}, qr/^t$/m, 'no value returned');
is($primary->safe_psql('postgres', "SET synchronous_commit = local; SHOW synchronous_commit"), 'local',
	'the session setting itself is left as set');

# The same through a cancel from another session.
my ($h, $out, $err) = ps_background($primary, "SELECT " . resolves_to($ref, $value));
$primary->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE wait_event = 'SyncRep' AND query LIKE '%provsecret.resolve%'})
  or die 'the reveal never waited for the standby';
$primary->safe_psql('postgres', q{
	SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE wait_event = 'SyncRep' AND query LIKE '%provsecret.resolve%'});
$h->finish;
like($$err, qr/55000: audit event not confirmed by the synchronous standby/, 'pg_cancel_backend: 55000');
unlike($$out, qr/^t$/m, 'no value returned');

# 2. No synchronous standby configured: the reveal returns at once.
$primary->append_conf('postgresql.conf', "synchronous_standby_names = ''");
$primary->reload;
is($primary->safe_psql('postgres', "SELECT " . resolves_to($ref, $value)), 't',
	'without synchronous standbys the reveal returns');

# 3. A synchronous standby attached: the value returns once the standby
# has applied the event (remote_apply), so it is visible there at once.
%port = (port => $ENV{PROVSECRET_TAP_PORT_BASE} + 1) if defined $ENV{PROVSECRET_TAP_PORT_BASE};
my $standby = PostgreSQL::Test::Cluster->new('sync1', %port);
$standby->init_from_backup($primary, 'base', has_streaming => 1);
ps_start($standby, key => $key) or die 'standby did not start';
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'sync1'");
$primary->reload;
$primary->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'sync1' AND sync_state = 'sync'})
  or die 'sync1 never became synchronous';
my $before = $primary->safe_psql('postgres', "SELECT count(*) FROM provsecret.audit_log WHERE reference = '$ref' AND action = 'secret.revealed'");
is($primary->safe_psql('postgres',
	"SET synchronous_commit = remote_apply; SELECT " . resolves_to($ref, $value)), 't',
	'with the synchronous standby attached the reveal returns');
is($events->($standby), $before + 1, 'and its event is already on the standby');
is($primary->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies');

$standby->stop;

# 4. The postmaster dies while a REST reveal waits for the standby: the
# worker ends without answering.  Before the fix PostgreSQL's wait gave up
# (ProcDiePending), the batch committed and the value went out.
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'absent_standby'");
$primary->reload;
my $url = "http://127.0.0.1:$rest_port";
ok(rest_ready($url), 'REST is ready');
my ($code, $curl_err) = ('', '');
my $body = "$jwt/reveal.body";
my $h2 = IPC::Run::start(
	[ 'curl', '-s', '-o', $body, '-w', '%{http_code}', '--max-time', '30',
	  '-H', "Authorization: Bearer $token", "$url/v1/workspaces/p1/secrets/sync_a" ],
	'>', \$code, '2>', \$curl_err);
$primary->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'provsecret rest' AND wait_event = 'SyncRep'})
  or die 'the REST reveal never waited for the standby';
$primary->kill9;
$h2->finish;
isnt($code, '200', "postmaster killed during the wait: no 200 (HTTP code '$code')");
my $got = -e $body ? slurp_file($body) : '';
ok(index($got, $value) < 0, 'and no value in the answer');

done_testing();
