# Root key rotation (DESIGN §4, §6): start with the new key and the old one
# as _PREVIOUS, rewrap() moves every data key under the new key in
# batches, and the old key can then be dropped.  Secrets are untouched:
# only data keys are rewrapped.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my ($old, $new) = (random_key(), random_key());
my $node = ps_node('rotation', 5);
my @tenants = map { "p$_" } 1 .. 3;

ok(ps_start($node, key => $old), 'server starts with the old key');
ps_sql($node, 'CREATE EXTENSION provsecret');
for my $t (@tenants)
{
	ps_sql($node, "SELECT provsecret.register_project('$t');
	  SELECT provsecret.seal('managed:project/$t/openai', 'value-$t');");
}
my $fp_old = ps_sql($node,
	q{SELECT root_key_fingerprint FROM provsecret.key_status WHERE root_key = 'current'});
my $versions_before = ps_sql($node,
	q{SELECT string_agg(reference || ':' || value_version, ',' ORDER BY reference)
	    FROM provsecret.secrets});

sub all_resolve
{
	return ps_sql($node, join(' AND ', map {
		resolves_to("managed:project/$_/openai", "value-$_") } @tenants)
		=~ s/^/SELECT /r);
}

ok(ps_restart($node, key => $new, previous => $old),
	'server starts with the new key and PREVIOUS = old');
is(ps_sql($node, q{SELECT root_key FROM provsecret.key_status}), 'previous',
	'key_status: every data key is still under the previous key');
is(all_resolve(), 't', 'everything resolves through the previous key');

# Batches of two over three data keys: 2, 1, then 0 when done.
is(ps_sql($node, 'SELECT provsecret.rewrap(2)'), '2', 'first batch rewraps 2');
is(ps_sql($node, 'SELECT provsecret.rewrap(2)'), '1', 'second batch rewraps the last one');
is(ps_sql($node, 'SELECT provsecret.rewrap(2)'), '0', 'then rewrap reports done');
my $fp_new = ps_sql($node,
	q{SELECT string_agg(DISTINCT root_key_fingerprint || '=' || root_key, ',')
	    FROM provsecret.key_status});
like($fp_new, qr/^[0-9a-f]{16}=current$/, 'key_status: all under the current key');
isnt((split /=/, $fp_new)[0], $fp_old, 'and that is not the old fingerprint');

ok(ps_restart($node, key => $new), 'server starts with the new key alone');
is(all_resolve(), 't', 'everything resolves without the old key');
is(ps_sql($node,
	q{SELECT string_agg(reference || ':' || value_version, ',' ORDER BY reference)
	    FROM provsecret.secrets}),
	$versions_before, 'rewrap changed no secret (same value_versions)');

my $r = ps_try($node, q{SELECT provsecret.rewrap(0)});
is($r->{sqlstate}, '22023', 'rewrap(0) is refused as a bad argument');

# The old key alone can no longer open anything.
ok(ps_restart($node, key => $old), 'server starts with the old key alone');
$r = ps_try($node, "SELECT provsecret.resolve('managed:project/p1/openai')");
is($r->{sqlstate}, '55000', 'the old key alone is now the wrong key (55000)');

$node->stop;
done_testing();
