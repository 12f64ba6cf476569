# Two-phase commit: COMMIT PREPARED would make a change visible in a session
# that runs no provsecret callback, so the REST workers' kept listings would
# not learn of it; a transaction that changed secrets, bindings, grants or
# projects may therefore not be prepared.  Others still can.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node('two_phase', 9, max_prepared_transactions => 4);
ok(ps_start($node, key => random_key()), 'server starts with a key');
ps_sql($node, q{CREATE EXTENSION provsecret; CREATE TABLE plain_t (x int);});

for my $change (
	[ 'a seal', q{SELECT provsecret.seal('managed:project/tp/k', 'v')} ],
	[ 'a grant', q{SELECT provsecret."grant"('user:u', 'project/tp', ARRAY['read'])} ],
	[ 'a project', q{SELECT provsecret.register_project('tp2')} ])
{
	my ($what, $sql) = @$change;
	my $r = ps_try($node, "BEGIN; $sql; PREPARE TRANSACTION 'p';");
	is($r->{sqlstate}, '0A000', "a transaction with $what cannot be prepared");
}
is(ps_sql($node, 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing was prepared');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/tp/k'}),
	'0', 'and the refused seal is gone');

ps_sql($node, q{BEGIN; INSERT INTO plain_t VALUES (1); PREPARE TRANSACTION 'ok';});
ps_sql($node, q{COMMIT PREPARED 'ok'});
is(ps_sql($node, 'SELECT count(*) FROM plain_t'), '1', 'other transactions still prepare and commit');

$node->stop;
done_testing();
