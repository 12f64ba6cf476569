# resolve() remembers, per backend, where it last found each reference (its
# heap TID) and fetches that tuple directly next time (secret_fetch.c).  A
# remembered TID must never be trusted beyond what it still holds: after a
# rotation, a delete, VACUUM truncating the table under it, or another
# secret taking over its slot, a long-lived session must resolve exactly
# what a fresh index probe would.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node('remembered_tid', 8);
ok(ps_start($node, key => random_key()), 'server starts with a key');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('tid');
  SELECT provsecret.seal('managed:project/tid/a', 'value-a-1');});

sub ctid_of
{
	my ($reference) = @_;
	return ps_sql($node,
		"SELECT ctid FROM provsecret.ai_provider_secret WHERE reference = '$reference'");
}

# The long-lived session whose memory is under test.  outcome() says
# whether resolve returned the expected value, another one, or which error;
# it is given the expected value's SHA-256, so no value reaches a log.
my $s = $node->background_psql('postgres');
$s->query_safe(q{
CREATE FUNCTION pg_temp.outcome(reference text, expected_sha256 text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE WHEN encode(sha256(convert_to(provsecret.resolve(reference), 'UTF8')), 'hex')
                     = expected_sha256
                THEN 'expected' ELSE 'another value' END;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$});
sub outcome_sql
{
	my ($reference, $expected) = @_;
	return "SELECT pg_temp.outcome('$reference', '" . sha256_hex($expected) . "')";
}
sub outcome
{
	return $s->query_safe(outcome_sql(@_));
}

is(outcome('managed:project/tid/a', 'value-a-1'), 'expected', 'first resolve (index probe)');
is(outcome('managed:project/tid/a', 'value-a-1'), 'expected', 'second resolve (remembered TID)');

# A rotation elsewhere writes a new version at a new TID.
my $before = ctid_of('managed:project/tid/a');
ps_sql($node, q{SELECT provsecret.seal('managed:project/tid/a', 'value-a-2')});
isnt(ctid_of('managed:project/tid/a'), $before, 'the rotation moved the row');
is(outcome('managed:project/tid/a', 'value-a-2'), 'expected', 'a rotation elsewhere is seen');

# A repeatable-read snapshot keeps the version it saw, even when the
# remembered TID still holds it; a new snapshot sees the rotation.
$s->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is(outcome('managed:project/tid/a', 'value-a-2'), 'expected', 'repeatable read: first resolve');
ps_sql($node, q{SELECT provsecret.seal('managed:project/tid/a', 'value-a-3')});
is(outcome('managed:project/tid/a', 'value-a-2'), 'expected', 'repeatable read: still its own snapshot');
$s->query_safe('COMMIT');
is(outcome('managed:project/tid/a', 'value-a-3'), 'expected', 'after commit: the rotation');

# Deleted, then VACUUM empties and truncates the table: the remembered TID
# now points past its end, which must read as "not found", not as an
# unreadable block.
my $remembered = ctid_of('managed:project/tid/a');
my ($block, $offset) = $remembered =~ /^\((\d+),(\d+)\)$/;
ps_sql($node, q{SELECT provsecret.delete_secret('managed:project/tid/a')});
$node->safe_psql('postgres', 'VACUUM provsecret.ai_provider_secret');
is( ps_sql($node,
		"SELECT pg_relation_size('provsecret.ai_provider_secret') <= $block * current_setting('block_size')::int"),
	't', 'VACUUM truncated the table below the remembered block');
is(outcome('managed:project/tid/a', 'value-a-3'), 'P0002', 'a TID past the end: not found');

# Other secrets fill the page again until one takes over the very slot:
# its value must not come back under the old reference.
ps_sql($node, "SELECT provsecret.seal('managed:project/tid/b' || g, 'value-b') FROM generate_series(1, $offset) g");
is(ctid_of("managed:project/tid/b$offset"), $remembered, 'another secret took the remembered slot');
is(outcome('managed:project/tid/a', 'value-b'), 'P0002', 'another reference in the slot: not found');
is(outcome("managed:project/tid/b$offset", 'value-b'), 'expected', 'the new secret resolves');

# Sealed again, the old reference resolves to its new value.
ps_sql($node, q{SELECT provsecret.seal('managed:project/tid/a', 'value-a-5')});
is(outcome('managed:project/tid/a', 'value-a-5'), 'expected', 'sealed again: the new value');

# Within one transaction the session sees its own rotation.
is( $s->query_safe(join(";\n",
			'BEGIN',
			outcome_sql('managed:project/tid/b1', 'value-b'),
			q{SELECT provsecret.seal('managed:project/tid/b1', 'value-b-2') IS NOT NULL},
			outcome_sql('managed:project/tid/b1', 'value-b-2'),
			'ROLLBACK',
			outcome_sql('managed:project/tid/b1', 'value-b'))),
	"expected\nt\nexpected\nexpected",
	'its own rotation in a transaction, and none after the rollback');

$s->quit;
$node->stop;
done_testing();
