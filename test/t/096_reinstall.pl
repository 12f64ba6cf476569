# DROP EXTENSION and CREATE EXTENSION again, while sessions stay connected:
# what a backend remembers about provsecret's tables (the secret table's
# OIDs for resolve, kept across calls) must follow the new tables, in the
# session that reinstalled and in one that was connected all along.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node('reinstall', 8);
ok(ps_start($node, key => random_key()), 'server starts with a key');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.seal('managed:project/re/k', 'first-install');});

my $other = $node->background_psql('postgres');
# compared as digests in SQL, so no value reaches the test or server log
is($other->query_safe("SELECT " . resolves_to('managed:project/re/k', 'first-install')),
	't', 'a connected session resolves');

is( ps_sql(
		$node, "SELECT " . resolves_to('managed:project/re/k', 'first-install') . q{;
DROP EXTENSION provsecret CASCADE;
CREATE EXTENSION provsecret;
SELECT provsecret.seal('managed:project/re/k', 'second-install');
SELECT } . resolves_to('managed:project/re/k', 'second-install')),
	"t\nmanaged:project/re/k\nt",
	'the reinstalling session resolves from the new tables');

is($other->query_safe("SELECT " . resolves_to('managed:project/re/k', 'second-install')),
	't', 'the session connected all along follows too');
$other->quit;

$node->stop;
done_testing();
