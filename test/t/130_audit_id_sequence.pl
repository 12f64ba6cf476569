# The audit event id sequence is out of the extension's reach for nobody:
# PostgreSQL lets a member of pg_write_all_data call setval() on every
# sequence, and no trigger fires for it.  Set back, the sequence would hand
# out ids that events already have, and every reveal would then fail closed
# ("audit event could not be recorded") with the chain stuck.  The audit
# worker moves the sequence past the ids in use before each batch and gives
# pending events whose id is taken a new one, so the chain goes on and still
# verifies.  The extension's other sequences (data keys, secrets,
# checkpoints) are moved past the ids in use on the worker's pending poll.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_id_sequence', 9);

my $ref = 'managed:project/seq_p/K';
seal_secret($node, $ref);
$node->safe_psql('postgres', reveal_sql($ref)) for 1 .. 3;
$node->safe_psql('postgres', 'CREATE ROLE pst_seq_wad IN ROLE pg_write_all_data');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies before');
my $max_before = $node->safe_psql('postgres', 'SELECT max(id) FROM provsecret.audit_event');

# The attack: the sequence set back to the start, as pg_write_all_data.
is($node->safe_psql('postgres',
		"SET ROLE pst_seq_wad; SELECT setval('provsecret.audit_event_id_seq', 1)"),
	'1', 'a pg_write_all_data member can set the id sequence back (PostgreSQL allows it)');

# A change event takes a pending id that an event already has; a reveal
# after it must still be recorded and return its value.
my $ref2 = 'managed:project/seq_p/K2';
$node->safe_psql('postgres', seal_sql($ref2));
my ($rc, $out, $err) = $node->psql('postgres',
	'SELECT ' . resolves_to($ref, $TEST_VALUE));
is($rc, 0, 'a reveal after the sequence was set back succeeds')
  or diag($err);
is($out, 't', 'and returns the value');
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM provsecret.audit_pending')
  or diag('pending events were not chained');
is($node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_pending'),
	'0', 'the pending change event was chained');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_event WHERE reference = '$ref2'"),
	'1', 'the seal after the attack is in the chain');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_event WHERE id > $max_before"),
	'2', 'both new events have ids beyond the ones in use');
is($node->safe_psql('postgres', $VERIFY),
	't|' . $node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_event') . '|',
	'the chain still verifies, every event checked');
ok($node->safe_psql('postgres',
		'SELECT last_value FROM provsecret.audit_event_id_seq') >= $max_before + 2,
	'the sequence is past the ids in use again');
like(slurp_file($node->logfile),
	qr/the event id sequence had been set back/, 'the worker logged the repair');

# Every other sequence of the extension, set back: new tenants, secrets and
# checkpoints would collide with ids in use until the worker catches up.
my @sequences = split /\n/, $node->safe_psql('postgres', q{
  SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
   WHERE d.refclassid = 'pg_extension'::regclass AND s.relkind = 'S'
     AND s.relnamespace = 'provsecret'::regnamespace AND d.deptype = 'e'
   ORDER BY 1});
cmp_ok(scalar @sequences, '>=', 4, 'the extension has its sequences');
$node->safe_psql('postgres', 'SELECT provsecret.seal($$managed:project/seq_q/K$$, $$v$$); SELECT provsecret.audit_retain($$0 seconds$$)');
for my $seq (@sequences)
{
	$node->safe_psql('postgres',
		"SET ROLE pst_seq_wad; SELECT setval('provsecret.$seq', 1)");
}
ok($node->poll_query_until('postgres', q{
  SELECT bool_and(s.last_value >= (SELECT max(id) FROM provsecret.data_key))
     AND (SELECT last_value FROM provsecret.ai_provider_secret_id_seq) >= (SELECT max(id) FROM provsecret.ai_provider_secret)
     AND (SELECT last_value FROM provsecret.audit_event_id_seq) >= (SELECT max(id) FROM provsecret.audit_event)
    FROM provsecret.data_key_id_seq s}),
	'the worker moves every set-back sequence past the ids in use');
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT provsecret.seal('managed:project/seq_new/K', 'value')});
is($rc, 0, 'then a new tenant and a new secret can be sealed') or diag($err);
($rc, $out, $err) = $node->psql('postgres', q{SELECT provsecret.audit_retain('0 seconds') >= 0});
is($rc, 0, 'and audit_retain can record a checkpoint') or diag($err);
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM provsecret.audit_pending')
  or diag('pending events were not chained');
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies after retention');

$node->stop;
done_testing();
