# Helpers shared by the test/t/1xx_audit_*.pl tests: a started node with
# provsecret preloaded and the extension created, and the SQL of a reveal
# and a seal.  Built on ProvsecretTest (ports, root-key environment).
package AuditNode;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use ProvsecretTest;

our @EXPORT = qw(audit_node audit_restart reveal_sql seal_sql seal_secret
  audit_worker_pid wait_for_worker events_for $TEST_VALUE $VERIFY);

# What every test secret holds.
our $TEST_VALUE = 'value';

# Every chain verified, in one line: ok|checked|first_bad_id (all chains
# ok, events checked in all, the smallest bad id).
our $VERIFY = q{SELECT CASE WHEN bool_and(ok) THEN 't' ELSE 'f' END || '|' || sum(checked) || '|' }
  . q{|| coalesce(min(first_bad_id)::text, '') FROM provsecret.verify_audit_chain()};

# The root key of each node, for restarts.
my %root_key;

# A started node with the extension created.  $port_offset as in ps_node;
# %conf: extra settings (quoted as postgresql.conf wants them).
sub audit_node
{
	my ($name, $port_offset, %conf) = @_;
	my $node = ps_node(
		$name, $port_offset,
		restart_after_crash        => 'on',
		log_statement              => 'none',
		'provsecret.audit_timeout' => "'3s'",
		%conf);
	$root_key{$name} = random_key();
	ps_start($node, key => $root_key{$name}) or die "$name did not start";
	$node->safe_psql('postgres', 'CREATE EXTENSION provsecret');
	wait_for_worker($node);
	return $node;
}

sub root_key
{
	my ($node) = @_;
	return $root_key{ $node->name };
}

# Clean (fast) restart with the node's root key, or with %opt (key, previous).
sub audit_restart
{
	my ($node, %opt) = @_;
	%opt = (key => $root_key{ $node->name }) unless %opt;
	$root_key{ $node->name } = $opt{key};
	ps_restart($node, %opt) or die $node->name . ' did not restart';
	wait_for_worker($node);
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
		'SELECT count(*) = 0 FROM provsecret.audit_pending')
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

# Reveal count of a reference and action in audit_log (chained or pending).
sub events_for
{
	my ($node, $reference, $action) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(count), 0) FROM provsecret.audit_log "
		  . "WHERE reference = '$reference' AND action = '$action'");
}

1;
