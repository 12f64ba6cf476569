# Online data-key rotation, rotate_data_key(target, batch) (issue 7 item 2):
# two sessions calling it at once never start two rotations or re-encrypt
# a ciphertext twice; a call waits for another's batch while resolves of the
# tenant do not wait at all; seals during a rotation land under the new
# key; a server killed mid-rotation (SIGKILL of the rotating backend, then
# an immediate stop) continues the rotation after the restart, and every
# value and kept version resolves at the end.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key  = random_key();
my $node = ps_node('datakeyrot', 6, restart_after_crash => 'on');
ok(ps_start($node, key => $key), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

# 40 secrets of company dk in four projects, every fourth sealed twice:
# 50 ciphertexts.  %value holds each reference's current value.
my (%value, %kept);
ps_sql($node, q{SELECT provsecret.register_company('dk')});
ps_sql($node, "SELECT provsecret.register_project('dkp$_', 'dk')") for 1 .. 4;
my @seals;
for my $i (1 .. 40)
{
	my $ref = 'managed:project/dkp' . (1 + $i % 4) . "/S$i";
	$value{$ref} = "rot-canary-$i-v1";
	push @seals, "SELECT provsecret.seal('$ref', '$value{$ref}');";
	next if $i % 4;
	$kept{$ref} = $value{$ref};
	$value{$ref} = "rot-canary-$i-v2";
	push @seals, "SELECT provsecret.seal('$ref', '$value{$ref}');";
}
ps_sql($node, join("\n", @seals));
ps_sql($node, q{SELECT provsecret.seal('managed:project/other/X', 'rot-other')});

my $ciphertexts = q{
	SELECT (SELECT count(*) FROM provsecret.ai_provider_secret WHERE company = 'dk')
	     + (SELECT count(*) FROM provsecret.ai_provider_secret_version WHERE company = 'dk')};
is(ps_sql($node, $ciphertexts), '50', '50 ciphertexts of dk');

sub active_key
{
	return ps_sql($node,
		q{SELECT id FROM provsecret.data_key WHERE tenant = 'company/dk' AND retired_at IS NULL});
}

sub retired_keys
{
	return ps_sql($node,
		q{SELECT count(*) FROM provsecret.data_key WHERE tenant = 'company/dk' AND retired_at IS NOT NULL});
}

# Every current value and every kept version of dk, checked at once.
sub all_resolve
{
	my ($label) = @_;
	my @sql = map { "SELECT provsecret.resolve('$_');" } sort keys %value;
	my @got = split /\n/, ps_sql($node, join("\n", @sql));
	is_deeply(\@got, [ map { $value{$_} } sort keys %value ], "$label: every value resolves");
	# kept versions: read through rollback() in a transaction rolled back
	my @kept_sql = map {
		"BEGIN; SELECT provsecret.rollback('$_', 1) \\g /dev/null\n"
		  . "SELECT provsecret.resolve('$_'); ROLLBACK;"
	} sort keys %kept;
	my @kept_got = split /\n/, ps_sql($node, join("\n", @kept_sql));
	is_deeply(\@kept_got, [ map { $kept{$_} } sort keys %kept ], "$label: every kept version resolves");
}

# The key.rotated events of dk as [step, re-encrypted], in order.
sub rotation_events
{
	my $rows = ps_sql($node, q{
		SELECT detail FROM provsecret.audit_log
		WHERE action = 'key.rotated' AND company = 'dk' ORDER BY id});
	return [ map { /^(rotation [a-z ]+?)(?:, the retired key destroyed)?: .*; (\d+) ciphertexts/ ? [ $1, $2 ] : [ $_, -1 ] }
		  split /\n/, $rows ];
}

# 1. One call holds the tenant's lock until it commits: a second call
# waits, resolves and seals of the tenant go on.
my $old = active_key();
my $a = $node->background_psql('postgres', on_error_stop => 0);
my $b = $node->background_psql('postgres', on_error_stop => 0);
$a->query_safe('BEGIN');
is($a->query_safe(q{SELECT provsecret.rotate_data_key('company/dk', 5)}), '5',
	'session A starts a rotation and re-encrypts 5 (not committed yet)');
$b->query_until(qr/started/, "\\echo started\nSELECT provsecret.rotate_data_key('company/dk', 5);\n");
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.locktype = 'advisory' AND NOT l.granted
	   AND a.query LIKE '%rotate_data_key%'}), 'session B waits for A');
my $t0 = time;
is(ps_sql($node, q{SELECT provsecret.resolve('managed:project/dkp2/S1')}), $value{'managed:project/dkp2/S1'},
	'a resolve of the tenant does not wait for the rotation');
cmp_ok(time - $t0, '<', 5, 'and returns at once');
$a->query_safe('COMMIT');
my ($out) = $b->query(q{SELECT 'b done'});
like($out, qr/^5\n/, 'after A commits, B re-encrypts the next 5');
my $new = active_key();
isnt($new, $old, 'a new active key');
is(retired_keys(), '1', 'one retired key: B continued A\'s rotation, it did not start another');
is_deeply([ map { $_->[0] } @{ rotation_events() } ], [ 'rotation started', 'rotation continued' ],
	'audited: started, continued');

# 2. A seal during the rotation lands under the new key.
ps_sql($node, q{SELECT provsecret.seal('managed:project/dkp1/NEW', 'rot-new')});
$value{'managed:project/dkp1/NEW'} = 'rot-new';
is(ps_sql($node, q{SELECT data_key_id FROM provsecret.ai_provider_secret WHERE reference = 'managed:project/dkp1/NEW'}),
	$new, 'a seal between batches is under the new key');
all_resolve('mid-rotation');

# 3. Both sessions loop until 0 at the same time, each call its own
# transaction, while a third session seals new secrets of the tenant.
my $loop = q{
DO $$
DECLARE n integer;
BEGIN
  LOOP
    n := provsecret.rotate_data_key('company/dk', 3);
    COMMIT;
    EXIT WHEN n = 0;
  END LOOP;
END $$;
\echo loop done
};
$a->query_until(qr/started/, "\\echo started\n$loop");
$b->query_until(qr/started/, "\\echo started\n$loop");
my @during;
for my $i (1 .. 10)
{
	my $ref = "managed:project/dkp3/DURING$i";
	ps_sql($node, "SELECT provsecret.seal('$ref', 'rot-during-$i')");
	$value{$ref} = "rot-during-$i";
	push @during, $ref;
}
($out) = $a->query(q{SELECT 'a done'});
my $a_err = $a->{stderr};
($out) = $b->query(q{SELECT 'b done'});
is($a_err . $b->{stderr}, '', 'neither looping session got an error (no deadlock, no serialization failure)');
is(retired_keys(), '0', 'no retired key is left');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.data_key WHERE tenant = 'company/dk'}), '1',
	'the tenant has exactly one data key');

# The events in lock order: the first rotation re-encrypted exactly the 50
# ciphertexts once; a session that called again after it finished started
# (and finished) another one, which is what "loop until 0" means.
my @events = @{ rotation_events() };
my ($rotations, $first_sum, $in_first) = (0, 0, 1);
my $well_formed = 1;
my $open = 0;
for my $e (@events)
{
	my ($step, $n) = @$e;
	$well_formed = 0 if $n < 0;
	if ($step =~ /started/)
	{
		$well_formed = 0 if $open;
		$open = 1;
		$rotations++;
	}
	else
	{
		$well_formed = 0 unless $open;
	}
	$first_sum += $n if $rotations == 1;
	$open = 0 if $step =~ /finished/;
}
ok($well_formed && !$open, 'every rotation is started once and finished once, never two at a time ('
	  . join(', ', map { "$_->[0] $_->[1]" } @events) . ')');
is($first_sum, 50, 'the first rotation re-encrypted each of the 50 ciphertexts exactly once');
my $under_new = ps_sql($node, q{
	SELECT count(*) FROM provsecret.ai_provider_secret s
	  JOIN provsecret.data_key k ON k.id = s.data_key_id
	 WHERE s.reference LIKE 'managed:project/dkp3/DURING%' AND k.retired_at IS NULL});
is($under_new, '10', 'the secrets sealed during the loops are under the active key');
all_resolve('after the concurrent loops');

# 4. Killed mid-rotation: a batch in flight is lost with its transaction,
# the rotation goes on after the restart.
is(ps_sql($node, q{SELECT provsecret.rotate_data_key('company/dk', 7)}), '7', 'a new rotation: first batch of 7');
my $crash_new = active_key();
$a->query_safe('BEGIN');
$a->query_safe(q{SELECT provsecret.rotate_data_key('company/dk', 7)});
my $pid = $a->query_safe('SELECT pg_backend_pid()');
ok(kill('KILL', $pid), "SIGKILL the backend with an uncommitted batch ($pid)");
$a->quit;
$b->quit;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server recovered from the crash');
is(retired_keys(), '1', 'the rotation is still in progress after crash recovery');
is(ps_sql($node, q{SELECT provsecret.rotate_data_key('company/dk', 7)}), '7', 'the next batch re-encrypts 7');
$node->stop('immediate');
ok(ps_start($node, key => $key), 'immediate stop in the middle of the rotation, started again');
all_resolve('after the crashes, mid-rotation');
is(active_key(), $crash_new, 'the active key is the one the rotation started');
my ($total, $calls, $n) = (0, 0, -1);
while ($n != 0 && $calls < 100)
{
	$n = ps_sql($node, q{SELECT provsecret.rotate_data_key('company/dk', 7)});
	$total += $n;
	$calls++;
}
is($n, '0', "the rotation finished after $calls more calls");
is($total + 14, 61, 'in all it re-encrypted the 61 ciphertexts once each');
is(retired_keys(), '0', 'the retired key is destroyed');
is(ps_sql($node, q{
	SELECT count(*) FROM provsecret.ai_provider_secret_version v
	 WHERE v.company = 'dk' AND v.data_key_id <> } . $crash_new), '0',
	'every kept version is under the new key');
all_resolve('after the rotation that survived the crashes');
is(ps_sql($node, q{SELECT provsecret.resolve('managed:project/other/X')}), 'rot-other', 'another tenant is untouched');
is(ps_sql($node, 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'), 't', 'the audit chain verifies');

# REPEATABLE READ: a tenant whose first key was created after the caller's
# snapshot is not "rotated" onto that same key; the caller retries.
my $rr = $node->background_psql('postgres', on_error_stop => 0);
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$rr->query_safe('SELECT 1');
ps_sql($node, q{SELECT provsecret.seal('managed:project/rr-late/K', 'rr-late')});
my $late_key = ps_sql($node, q{SELECT id FROM provsecret.data_key WHERE tenant = 'project/rr-late'});
$rr->{stderr} = '';
$rr->query(q{SELECT provsecret.rotate_data_key('project/rr-late', 10)});
like($rr->{stderr}, qr/could not start the data-key rotation/,
	'a key newer than the snapshot: 40001, not a rotation onto it');
$rr->{stderr} = '';
$rr->query('ROLLBACK');
$rr->quit;
is(ps_sql($node, q{SELECT provsecret.rotate_data_key('project/rr-late', 10)}), '1',
	'in a new transaction the rotation starts');
isnt(ps_sql($node, q{SELECT id FROM provsecret.data_key WHERE tenant = 'project/rr-late' AND retired_at IS NULL}),
	$late_key, '... onto a new key');

$node->stop;
done_testing();
