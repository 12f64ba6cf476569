# The chain key lives wrapped by the root key: the chain still verifies after
# a root-key rotation with rewrap(), and after pg_dump / pg_restore.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use AuditNode;

my $node = audit_node('audit_chain_keys', 7);
my $ref = 'managed:project/p1/rotated';
seal_secret($node, $ref);
$node->safe_psql('postgres', reveal_sql($ref)) for 1 .. 3;
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'chain verifies under the first root key');
my $first = $node->safe_psql('postgres',
	'SELECT root_key_fingerprint FROM provsecret.audit_chain_key');

# Rotate: new key, old one as _PREVIOUS; rewrap until done.
my $new_key = random_key();
audit_restart($node, key => $new_key, previous => AuditNode::root_key($node));
is($node->safe_psql('postgres', reveal_sql($ref)), $TEST_VALUE,
	'reveal works during the rotation');
my $rewrapped = 0;
while ((my $n = $node->safe_psql('postgres', 'SELECT provsecret.rewrap(1)')) > 0)
{
	$rewrapped += $n;
}
cmp_ok($rewrapped, '>=', 1, 'rewrap() moved the data key');
isnt($node->safe_psql('postgres',
		'SELECT root_key_fingerprint FROM provsecret.audit_chain_key'),
	$first, 'chain key now wrapped by the new root key');

# Without the previous key: the chain continues and verifies.
audit_restart($node, key => $new_key);
$node->safe_psql('postgres', reveal_sql($ref));
my $count = $node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_event');
is($node->safe_psql('postgres', $VERIFY),
	"t|$count|", 'chain verifies after the rotation, old key gone');

# pg_dump / drop / pg_restore: the same chain, still verifiable, continues.
my $dump = PostgreSQL::Test::Utils::tempdir() . '/audit.dump';
$node->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump');
$node->safe_psql('postgres',
	'DROP EXTENSION provsecret CASCADE; DROP SCHEMA provsecret CASCADE');
$node->command_ok(
	[ 'pg_restore', '-d', $node->connstr('postgres'), $dump ],
	'pg_restore');
is($node->safe_psql('postgres', $VERIFY),
	"t|$count|", 'restored chain verifies');
is($node->safe_psql('postgres', reveal_sql($ref)), $TEST_VALUE, 'reveal after restore');
is($node->safe_psql('postgres', $VERIFY),
	't|' . ($count + 1) . '|', 'the worker continues the restored chain');

# Root key replaced without _PREVIOUS: secrets sealed under the new key
# still reveal, audited under a new chain-key epoch; the older events verify
# only once the old key is back.
my $restored_key = AuditNode::root_key($node);
my $other_key = random_key();
audit_restart($node, key => $other_key);
my $fresh = 'managed:project/p2/after_replacement';
seal_secret($node, $fresh);
is($node->safe_psql('postgres', reveal_sql($fresh)), $TEST_VALUE,
	'a secret sealed under the replacement key reveals');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM provsecret.audit_event WHERE action = 'audit.rekeyed'"),
	'1', 'the chain records that it continues under a new key');
is($node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_chain_key'),
	'2', 'two chain-key epochs');
my ($rc, $out, $err) = $node->psql('postgres', $VERIFY);
like($err, qr/not the key the audit chain was sealed with/,
	'the older epoch cannot be verified without its root key');
audit_restart($node, key => $other_key, previous => $restored_key);
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM provsecret.audit_event');
is($node->safe_psql('postgres', $VERIFY),
	"t|$total|", 'with both root keys the whole chain verifies across epochs');

$node->stop;
done_testing();
