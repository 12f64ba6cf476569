# Tamper evidence: the keyed hash chain verifies, any edited, removed or
# reordered row is reported, the tables are append-only for everyone, and
# retention keeps the chain verifiable through a checkpoint.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_chain', 9);

my $ref = 'managed:project/p1/chained';
seal_secret($node, $ref);    # event 1
$node->safe_psql('postgres', reveal_sql($ref)) for 1 .. 10;    # events 2-11

is($node->safe_psql('postgres', $VERIFY),
	't|11|', 'intact chain verifies: ok, 11 checked, no bad id');

# Each tampering runs in a transaction that is rolled back afterwards.
sub tampered
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', qq(
BEGIN;
ALTER TABLE provsecret.audit_event DISABLE TRIGGER audit_event_append_only;
$sql;
$VERIFY;
ROLLBACK;));
}

like(tampered("UPDATE provsecret.audit_event SET principal = 'db:someone_else' WHERE id = 4"),
	qr/^f\|11\|4$/m, 'edited principal: first_bad_id is the edited row');
like(tampered("UPDATE provsecret.audit_event SET at = at - interval '1 day' WHERE id = 7"),
	qr/^f\|11\|7$/m, 'edited time detected');
like(tampered("UPDATE provsecret.audit_event SET count = 2 WHERE id = 11"),
	qr/^f\|11\|11$/m, 'edited count detected');
like(tampered("DELETE FROM provsecret.audit_event WHERE id = 5"),
	qr/^f\|10\|6$/m, 'deleted row: first_bad_id is the row after the gap');
like(tampered(
		"UPDATE provsecret.audit_event SET chain_seq = -chain_seq WHERE id IN (2, 3); "
		  . "UPDATE provsecret.audit_event SET chain_seq = CASE chain_seq WHEN -2 THEN 3 ELSE 2 END "
		  . "WHERE chain_seq < 0"),
	qr/^f\|11\|3$/m, 'swapped rows detected');
like(tampered("DELETE FROM provsecret.audit_event WHERE id >= 9"),
	qr/^f\|8\|11$/m, 'dropped newest rows detected (worker head)');
like(tampered("DELETE FROM provsecret.audit_event WHERE id <= 3"),
	qr/^f\|8\|4$/m, 'dropped oldest rows without a checkpoint detected');
like(tampered(
		"INSERT INTO provsecret.audit_event (id, chain_seq, at, action, reference, company, project, "
		  . "principal, channel, client_addr, request_id, value_version, outcome, count, detail, "
		  . "prev_hash, hash, key_epoch) "
		  . "SELECT 12, 12, now(), 'secret.revealed', reference, company, project, "
		  . "principal, channel, client_addr, request_id, value_version, outcome, count, detail, hash, hash, key_epoch "
		  . "FROM provsecret.audit_event WHERE id = 11"),
	qr/^f\|12\|12$/m, 'forged row detected');
is($node->safe_psql('postgres', $VERIFY),
	't|11|', 'chain verifies again once the tampering is rolled back');

# Append-only, superuser included, even with session_replication_role.
for my $sql (
	"UPDATE provsecret.audit_event SET outcome = 'denied'",
	'DELETE FROM provsecret.audit_event',
	'TRUNCATE provsecret.audit_event',
	"SET session_replication_role = replica; DELETE FROM provsecret.audit_event",
	'DELETE FROM provsecret.audit_checkpoint',
	'DELETE FROM provsecret.audit_pending')
{
	my ($rc, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/42501.*append-only/s, "refused with 42501: $sql");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_event'),
	'11', 'nothing was removed');

# Who may verify; the chain key is stored wrapped.
$node->safe_psql('postgres', q(
CREATE ROLE auditor LOGIN IN ROLE provsecret_auditor;
CREATE ROLE nobody LOGIN;));
is($node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_log',
		connstr => $node->connstr('postgres') . ' user=auditor'),
	'11', 'the auditor reads audit_log');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()',
		connstr => $node->connstr('postgres') . ' user=auditor'),
	't', 'provsecret_auditor may verify');
my ($rc, $out, $err) = $node->psql('postgres', $VERIFY,
	connstr => $node->connstr('postgres') . ' user=nobody');
like($err, qr/permission denied/, 'a role without audit rights may not');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_log WHERE action = 'access.denied' AND principal = 'db:nobody'"),
	'1', 'and the attempt is audited');
($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM provsecret.audit_chain_key',
	connstr => $node->connstr('postgres') . ' user=auditor');
like($err, qr/permission denied/, 'the auditor cannot read the wrapped chain key');
is($node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_log',
		connstr => $node->connstr('postgres') . ' user=nobody'),
	'0', 'a role without grants sees no events');

# Retention drops whole monthly partitions (test/t/107_audit_partitions.pl
# has the rest): events of a month long gone, chained by the worker from
# audit_pending as a restore would have them, go with their partition.
$node->safe_psql('postgres', q(
INSERT INTO provsecret.audit_pending (at, action, reference, principal, channel, outcome)
SELECT now() - interval '400 days' + g * interval '1 second', 'secret.revealed',
       'managed:project/p1/chained', 'db:old', 'sql', 'ok'
  FROM generate_series(1, 3) g;));
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM provsecret.audit_pending')
  or die 'old events not chained';
($rc, $out, $err) = $node->psql('postgres', "SELECT provsecret.audit_retain('300 days')",
	connstr => $node->connstr('postgres') . ' user=auditor');
like($err, qr/permission denied/, 'only a superuser may drop audit events');
is($node->safe_psql('postgres', "SELECT provsecret.audit_retain('300 days')"),
	'3', 'audit_retain dropped the 3 events of the old partition');
is($node->safe_psql('postgres',
		"SELECT coalesce(chain, 'NULL') || '|' || through_seq || '|' || dropped || '|' || kept_before "
		  . "FROM provsecret.audit_checkpoint WHERE retained_by <> 'update to 0.5.0'"),
	'|4|3|1', 'checkpoint: the global chain cut at its newest dropped event, its one older event '
	  . '(the refused verification) kept; p1, company-less, chains under its own company');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM provsecret.audit_event WHERE action = 'audit.retained'")
  or die 'retention event not chained';
$node->safe_psql('postgres', reveal_sql($ref));
is($node->safe_psql('postgres', $VERIFY),
	't|14|', 'chain verifies after retention (12 kept, audit.retained, one reveal)');
like(
	$node->safe_psql('postgres', qq(
BEGIN;
ALTER TABLE provsecret.audit_checkpoint DISABLE TRIGGER audit_checkpoint_append_only;
DELETE FROM provsecret.audit_checkpoint;
$VERIFY;
ROLLBACK;)),
	qr/^f\|14\|\d+$/m, 'removing the checkpoint is detected');
like(
	$node->safe_psql('postgres', qq(
BEGIN;
ALTER TABLE provsecret.audit_checkpoint DISABLE TRIGGER audit_checkpoint_append_only;
UPDATE provsecret.audit_checkpoint SET dropped = dropped - 1;
$VERIFY;
ROLLBACK;)),
	qr/^f\|14\|\d*$/m, 'a forged checkpoint is detected');

# Restart: the chain continues and verifies with the same root key.
audit_restart($node);
$node->safe_psql('postgres', reveal_sql($ref));
is($node->safe_psql('postgres', $VERIFY),
	't|15|', 'chain verifies and continues after a restart');

# A different root key cannot unwrap the chain key.
ps_restart($node, key => random_key()) or die 'restart failed';
($rc, $out, $err) = $node->psql('postgres', $VERIFY);
like($err, qr/not the key/, 'a wrong root key is refused, not reported as tampering');
$node->stop;

done_testing();
