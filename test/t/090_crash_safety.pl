# Crash safety (issue 7 item 8): a pgbench mix of seal (new reference),
# rotate (seal of an existing reference) and resolve from 8 clients while
# backends and the audit worker are killed with SIGKILL and the server is
# stopped in immediate mode once.  What each client saw committed is read
# from pgbench's per-transaction log; afterwards every acknowledged seal
# resolves to its last acknowledged value (or to the one in flight at the
# crash), value versions have no gap, every returned reveal has its event,
# and the audit chain verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;
use IPC::Run;
use AuditNode;

my $CLIENTS = 8;
my $XACT_OFFSET = 0;    # pgbench logs transaction_no after counting it
my $node = audit_node('crash_safety', 0,
	max_connections    => 40,
	synchronous_commit => 'on');

my $dir = PostgreSQL::Test::Utils::tempdir();

# Client c owns reference crash_c (rotated and resolved) and creates new
# references crash_c_rR_N; N counts the client's transactions in a round,
# so pgbench's log (one line per committed transaction) says which values
# were acknowledged.
my $fixed = "'managed:project/p1/crash_' || :client_id";
my %scripts = (
	seal => "SELECT provsecret.seal($fixed || '_r' || :round || '_' || :n, 'r' || :round || ':' || :n);",
	rotate  => "SELECT provsecret.seal($fixed, 'r' || :round || ':' || :n);",
	resolve => "SELECT provsecret.resolve($fixed);",
);
my @order = qw(seal rotate resolve);
my @files;
for my $name (@order)
{
	my $f = "$dir/$name.sql";
	open my $fh, '>', $f or die;
	print $fh "\\set n :n + 1\n$scripts{$name}\n";
	close $fh;
	push @files, $f;
}

$node->safe_psql('postgres',
	join(';', map { "SELECT provsecret.seal('managed:project/p1/crash_$_', 'r0:0')" }
		  0 .. $CLIENTS - 1));

# Round $round: pgbench for up to $seconds; $fault (a code ref) runs after
# 1.5 s.  Returns the parsed log: list of [client, n, script name].
sub round
{
	my ($round, $seconds, $fault) = @_;
	my ($out, $err) = ('', '');
	my $prefix = "$dir/log_$round";
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $CLIENTS, '-j', 4, '-T', $seconds,
			'-D', 'n=0', '-D', "round=$round",
			'-l', '--log-prefix', $prefix,
			(map { ('-f', "$_\@1") } @files), 'postgres'
		],
		'>', \$out, '2>', \$err);
	if ($fault)
	{
		select(undef, undef, undef, 1.5);
		$fault->();
	}
	$h->finish;
	my @done;
	for my $log (glob "$prefix.*")
	{
		open my $fh, '<', $log or die;
		while (<$fh>)
		{
			# client_id transaction_no time script_no time_epoch time_us
			my ($client, $xact, $time, $script) = split;
			next if $time eq 'failed' || $time eq 'skipped';
			# transaction_no is the count including this one, which is n
			push @done, [ $client, $xact + $XACT_OFFSET, $order[$script] ];
		}
		close $fh;
	}
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die 'server did not come back';
	wait_for_worker($node);
	return @done;
}

sub kill_backend
{
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE '%provsecret.%' "
		  . "AND pid <> pg_backend_pid() AND backend_type = 'client backend' LIMIT 1");
	ok($pid && kill('KILL', $pid), "SIGKILL a backend in a seal/resolve ($pid)");
}

sub kill_worker
{
	my $pid = audit_worker_pid($node);
	ok($pid && kill('KILL', $pid), "SIGKILL the audit worker ($pid)");
}

sub immediate_restart
{
	$node->stop('immediate');
	audit_restart($node);
	pass('immediate stop and start');
}

my @faults = (\&kill_backend, \&kill_worker, \&immediate_restart,
	\&kill_backend, \&kill_worker, undef);
my (%acked_rotate, %last_n, %sealed, %returned, %inflight);
for my $i (0 .. $#faults)
{
	my $round = $i + 1;
	my @done = round($round, $faults[$i] ? 8 : 3, $faults[$i]);
	note sprintf('round %d: %d transactions committed', $round, scalar @done);
	for my $d (@done)
	{
		my ($c, $n, $what) = @$d;
		$last_n{$round}{$c} = $n
		  if !defined $last_n{$round}{$c} || $n > $last_n{$round}{$c};
		if ($what eq 'rotate')
		{
			my $prev = $acked_rotate{$c};
			$acked_rotate{$c} = [ $round, $n ]
			  if !$prev || $prev->[0] < $round || ($prev->[0] == $round && $prev->[1] < $n);
		}
		elsif ($what eq 'seal')
		{
			$sealed{"managed:project/p1/crash_${c}_r${round}_$n"} = "r$round:$n";
		}
		else
		{
			$returned{$c}++;
		}
	}
	# After a fault, each client's next transaction may have committed
	# without its acknowledgement.
	$inflight{$round}{$_} = ($last_n{$round}{$_} // 0) + 1 for 0 .. $CLIENTS - 1;
}
my $n_rotates = scalar keys %acked_rotate;
cmp_ok(scalar(keys %sealed), '>', 20, scalar(keys %sealed) . ' new seals acknowledged');
cmp_ok($n_rotates, '==', $CLIENTS, 'every client had a rotation acknowledged');

# 1. Every acknowledged new seal resolves to its value (one query).
my $values = join(',', map { "('$_', '$sealed{$_}')" } sort keys %sealed);
my $wrong = $node->safe_psql('postgres',
	"SELECT count(*) FROM (VALUES $values) AS e(ref, val) "
	  . "LEFT JOIN provsecret.secrets s ON s.reference = e.ref "
	  . "WHERE CASE WHEN s.reference IS NULL THEN true "
	  . "ELSE provsecret.resolve(e.ref) IS DISTINCT FROM e.val END");
is($wrong, '0', 'every acknowledged seal resolves to its value');

# 2. Each rotated secret holds its last acknowledged value, or the value in
# flight after it when a fault hit that round.
my $bad = 0;
for my $c (0 .. $CLIENTS - 1)
{
	my $got = $node->safe_psql('postgres',
		"SELECT provsecret.resolve('managed:project/p1/crash_$c')");
	my ($r, $n) = $got =~ /^r(\d+):(\d+)$/ or do { $bad++; next };
	my ($ar, $an) = @{ $acked_rotate{$c} };
	next if $r == $ar && $n == $an;
	my $later = $r > $ar || ($r == $ar && $n > $an);
	unless ($later && $faults[ $r - 1 ] && $inflight{$r}{$c} == $n)
	{
		diag "crash_$c holds r$r:$n, last acknowledged r$ar:$an";
		$bad++;
	}
}
is($bad, 0, 'every rotated secret resolves to its last committed value');

# 3. Value versions 1..N without a gap, per secret, from the audit events
# (kept versions are pruned by provsecret.keep_versions).
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	  SELECT s.reference, s.value_version,
	         array_agg(a.value_version ORDER BY a.value_version) AS seen
	  FROM provsecret.secrets s
	  JOIN provsecret.audit_log a
	    ON a.reference = s.reference
	   AND a.action IN ('secret.sealed', 'secret.rotated')
	  WHERE s.reference LIKE 'managed:project/p1/crash_%'
	  GROUP BY s.reference, s.value_version) x
	WHERE seen <> ARRAY(SELECT generate_series(1, value_version))}),
	'0', 'value_version runs 1..N per secret in the audit events');
my $rotations = $node->safe_psql('postgres', q{
	SELECT sum(value_version) FROM provsecret.secrets
	WHERE reference ~ '^managed:project/p1/crash_[0-9]+$'});
cmp_ok($rotations, '>', $CLIENTS, "rotations reached the fixed secrets ($rotations versions)");

# 4. Every reveal that returned a value has its event.
my $missing = 0;
for my $c (0 .. $CLIENTS - 1)
{
	my $events = events_for($node, "managed:project/p1/crash_$c", 'secret.revealed');
	# the checks above revealed each fixed secret once
	my $want = ($returned{$c} // 0) + 1;
	if ($events < $want)
	{
		diag "crash_$c: $want reveals returned, $events events";
		$missing++;
	}
}
is($missing, 0, 'every returned reveal has its secret.revealed event');

# 5. The chain verifies.
is($node->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'audit chain verifies');

$node->stop;
done_testing();
