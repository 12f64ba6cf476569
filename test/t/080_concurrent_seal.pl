# Concurrent seals of one reference (DESIGN §4: seal creates or rotates).
# A second session sealing a reference another session is creating waits
# for it and then rotates what it created; concurrent rotations never lose
# a version; a seal racing a delete creates the secret afresh.  No session
# ever gets an error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::SHA qw(sha256_hex);

$ENV{CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY} =
  $ENV{PROVSECRET_TEST_ROOT_KEY} // ('5a' x 32);

my $node = PostgreSQL::Test::Cluster->new('concurrent',
	port => $ENV{PROVSECRET_TAP_PORT_CONCURRENT} // 55435);
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'provsecret'
provsecret.mode = 'deployed'
provsecret.rest_listen_addresses = ''
});
$node->start;
$node->safe_psql('postgres',
	"CREATE EXTENSION provsecret; SELECT provsecret.register_project('cc')");

my $ref = 'managed:project/cc/RACE';
my $first = $node->background_psql('postgres', on_error_stop => 0);
my $second = $node->background_psql('postgres', on_error_stop => 0);

# Wait until some backend waits on a lock (the second session's seal).
sub wait_for_lock_wait
{
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
	  or die "the second seal never waited";
}

# Start a statement in $second without waiting for it to finish.
sub start_in_second
{
	my ($sql) = @_;
	$second->query_until(qr/started/, "\\echo started\n$sql\n");
}

sub finish_second
{
	my ($out, $failed) = $second->query("SELECT 'second done'");
	return ($out, $second->{stderr});
}

# The values are made by the server (the hex SHA-256 of "race-N"), so the
# statements, which background psql echoes into the test log, never hold one;
# a resolve is compared by its digest.
sub race_value_sql
{
	my ($n) = @_;
	return "encode(sha256(convert_to('race-$n', 'UTF8')), 'hex')";
}

sub resolves_to_race
{
	my ($n) = @_;
	return $node->safe_psql('postgres',
		"SELECT encode(sha256(convert_to(provsecret.resolve('$ref'), 'UTF8')), 'hex') = '"
		  . sha256_hex(sha256_hex("race-$n")) . "'");
}

sub version_of
{
	return $node->safe_psql('postgres',
		"SELECT value_version FROM provsecret.secrets WHERE reference = '$ref'");
}

# 1. Both create: the second waits, then rotates the first's secret.
$first->query_safe("BEGIN");
$first->query_safe("SELECT provsecret.seal('$ref', " . race_value_sql(1) . ")");
start_in_second("SELECT provsecret.seal('$ref', " . race_value_sql(2) . ");");
wait_for_lock_wait();
$first->query_safe("COMMIT");
my ($out, $err) = finish_second();
like($out, qr/\Q$ref\E/, 'the second creating seal returns the reference');
is($err, '', 'the second creating seal raised nothing');
is(version_of(), '2', 'it rotated the secret the first session created');
is(resolves_to_race(2), 't', 'the later value wins');

# 2. Both rotate: no version is lost.
$first->query_safe("BEGIN");
$first->query_safe("SELECT provsecret.seal('$ref', " . race_value_sql(3) . ")");
start_in_second("SELECT provsecret.seal('$ref', " . race_value_sql(4) . ");");
wait_for_lock_wait();
$first->query_safe("COMMIT");
($out, $err) = finish_second();
is($err, '', 'the second rotation raised nothing');
is(version_of(), '4', 'two concurrent rotations give versions 3 and 4');
is( $node->safe_psql('postgres',
		"SELECT string_agg(value_version::text, ',' ORDER BY value_version) FROM provsecret.versions('$ref')"),
	'1,2,3,4',
	'every version is kept');

# 3. A seal racing a delete creates the secret afresh.
$first->query_safe("BEGIN");
$first->query_safe("SELECT provsecret.delete_secret('$ref')");
start_in_second("SELECT provsecret.seal('$ref', " . race_value_sql(5) . ");");
wait_for_lock_wait();
$first->query_safe("COMMIT");
($out, $err) = finish_second();
is($err, '', 'a seal racing a delete raised nothing');
is(resolves_to_race(5), 't', 'the secret exists again with the new value');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.ai_provider_secret_version v JOIN provsecret.ai_provider_secret s ON s.id = v.secret_id WHERE s.reference = '$ref'"),
	'0',
	'it starts without the deleted versions');

$first->quit;
$second->quit;
$node->stop;
done_testing();
