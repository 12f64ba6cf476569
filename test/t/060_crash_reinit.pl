# A backend crash makes the postmaster reinitialize shared memory and
# re-fork every child.  The root key was read once and scrubbed from the
# environment at start (DESIGN §6), so it must survive that reinit: the
# server resolves again after the crash, still without the key in sight.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key  = random_key();
my $node = ps_node('crash', 4, restart_after_crash => 'on');

ok(ps_start($node, key => $key), 'server starts with a key');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('tap');
  SELECT provsecret.seal('managed:project/tap/openai', 'before-crash');});

my $session = $node->background_psql('postgres');
my $victim  = $session->query_safe('SELECT pg_backend_pid()');
my $off     = -s $node->logfile;
kill 'KILL', $victim;
$session->quit;    # its backend is gone; psql just exits

ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'server accepts connections again after the crash');
like(log_since($node, $off), qr/all server processes terminated; reinitializing/,
	'the postmaster reinitialized after the crash');

is(ps_sql($node,
	"SELECT " . resolves_to('managed:project/tap/openai', 'before-crash')),
	't', 'a secret sealed before the crash resolves after it');
ps_sql($node, q{SELECT provsecret.seal('managed:project/tap/openai', 'after-crash')});
is(ps_sql($node,
	"SELECT " . resolves_to('managed:project/tap/openai', 'after-crash')),
	't', 'sealing works after the crash');

# The re-forked children start from the postmaster's memory: still clean.
my ($postmaster, @children) = server_pids($node);
cmp_ok(scalar @children, '>=', 4, 'the postmaster has re-forked its children');
my @leaking = grep { leaks(read_proc($_, 'environ') // '', $key) }
  ($postmaster, @children);
is("@leaking", '', 'no server process has the key in its environ after the crash');

$node->stop;
done_testing();
