# Helpers shared by the test/t/1xx_audit_*.pl tests: a cluster with
# provsecret preloaded and a way to reveal a secret through the SQL API.
package AuditNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

our @EXPORT = qw(audit_node reveal_sql seal_sql seal_secret audit_worker_pid
  wait_for_worker events_for $TEST_VALUE);

# What every test secret holds.
our $TEST_VALUE = 'value';

# Deterministic test root key (never a real one).
$ENV{CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY} =
  '5c0a7e1f2b3d4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6';

# A started node with the extension created.  Ports come from the audit
# range (55470-55479), one per test file, so files can run in parallel.
sub audit_node
{
	my ($name, $port, $extra_conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name, port => $port);
	$node->init;
	$node->append_conf(
		'postgresql.conf', qq(
shared_preload_libraries = 'provsecret'
restart_after_crash = on
provsecret.mode = local
provsecret.audit_timeout = '3s'
log_statement = none
) . ($extra_conf // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION provsecret');
	wait_for_worker($node);
	return $node;
}

# SQL returning a secret's value, audited as a reveal.
sub reveal_sql
{
	my ($reference) = @_;
	return "SELECT provsecret.resolve('$reference')";
}

# SQL sealing a secret (a transactional change event); returns the reference.
sub seal_sql
{
	my ($reference) = @_;
	return "SELECT provsecret.seal('$reference', '$TEST_VALUE')";
}

# Seal and wait until its event is chained.
sub seal_secret
{
	my ($node, $reference) = @_;
	$node->safe_psql('postgres', seal_sql($reference));
	$node->poll_query_until('postgres',
		'SELECT count(*) = 0 FROM provsecret.audit_log WHERE id IS NULL')
	  or die 'seal event not chained';
}

sub audit_worker_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'provsecret audit'"
	);
}

# Wait until a (new) audit worker is attached to the queue.
sub wait_for_worker
{
	my ($node, $not_pid) = @_;
	$not_pid //= 0;
	$node->poll_query_until('postgres',
		"SELECT worker_pid IS NOT NULL AND worker_pid <> $not_pid FROM provsecret.audit_worker_status"
	) or die "audit worker did not start";
}

# Number of chained or pending events for a reference and action.
sub events_for
{
	my ($node, $reference, $action) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(count), 0) FROM provsecret.audit_log "
		  . "WHERE reference = '$reference' AND action = '$action'");
}

1;
