# Helpers shared by the Perl TAP tests in test/t: a node with provsecret
# preloaded, starting it with a chosen root-key environment, and reading
# the SQLSTATE, message and hint of a failing statement.
#
# The tests run as `postgres` through test/t/run.sh or scripts/test, which
# set PATH to the staged binaries, PERL5LIB, PG_REGRESS and TESTDIR.
package ProvsecretTest;

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha256_hex);
use Encode ();
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes ();

our @EXPORT = qw(
  KEY_VAR PREVIOUS_VAR
  ps_node ps_start ps_restart ps_sql ps_try random_key random_text
  log_since leaks read_proc server_pids ps_background resolves_to
  rest_ready
);

use constant KEY_VAR      => 'CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY';
use constant PREVIOUS_VAR => 'CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY_PREVIOUS';

# With PROVSECRET_TAP_PORT_BASE set, each test file takes base + its own
# offset (a developer's fixed range); otherwise the Cluster module picks a
# free port, reserved in PG_TEST_PORT_DIR.
sub ps_node
{
	my ($name, $port_offset, %conf) = @_;
	my %port;
	%port = (port => $ENV{PROVSECRET_TAP_PORT_BASE} + $port_offset)
	  if defined $ENV{PROVSECRET_TAP_PORT_BASE};
	my $node = PostgreSQL::Test::Cluster->new($name, %port);
	$node->init;
	$node->append_conf('postgresql.conf', join("\n",
		"shared_preload_libraries = 'provsecret'",
		# REST is not under test here; its fixed port would collide.
		"provsecret.rest_listen_addresses = ''",
		map { "$_ = $conf{$_}" } sort keys %conf));
	return $node;
}

# Start the postmaster with exactly the root-key variables given
# (key, previous; either may be undef) plus any extra environment.
# Returns true when the server came up.
sub ps_start
{
	my ($node, %opt) = @_;
	local %ENV = %ENV;
	delete $ENV{ KEY_VAR() };
	delete $ENV{ PREVIOUS_VAR() };
	$ENV{ KEY_VAR() }      = $opt{key}      if defined $opt{key};
	$ENV{ PREVIOUS_VAR() } = $opt{previous} if defined $opt{previous};
	my $extra = $opt{env} // {};
	$ENV{$_} = $extra->{$_} for keys %$extra;
	return $node->start(fail_ok => 1);
}

sub ps_restart
{
	my ($node, %opt) = @_;
	$node->stop('fast');
	return ps_start($node, %opt);
}

# An SQL condition true when reference resolves to expected.  The value is
# compared as a SHA-256 digest, so it never appears in a statement the
# server logs (log_statement = all in test clusters).
sub resolves_to
{
	my ($reference, $expected) = @_;
	(my $quoted = $reference) =~ s/'/''/g;
	return "encode(sha256(convert_to(provsecret.resolve('$quoted'), 'UTF8')), 'hex') = '"
	  . sha256_hex(Encode::encode('UTF-8', $expected)) . "'";
}

# Run SQL that must succeed; returns its output (unaligned, tuples only).
sub ps_sql
{
	my ($node, $sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

# A psql running SQL in the background; returns the harness and refs to its
# stdout and stderr (SQLSTATEs shown).
sub ps_background
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

# Run SQL that may fail.  Returns a hash: ok, out, sqlstate, message,
# detail, hint, err (all of stderr).
sub ps_try
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	my %r = (ok => $rc == 0, out => $out, err => $err);
	if ($err =~ /^(?:psql:[^\n]*?)?ERROR:\s+([0-9A-Z]{5}):\s*(.*)$/m)
	{
		$r{sqlstate} = $1;
		$r{message}  = $2;
	}
	$r{detail} = $1 if $err =~ /^DETAIL:\s+(.*)$/m;
	$r{hint}   = $1 if $err =~ /^HINT:\s+(.*)$/m;
	$r{sqlstate} //= '';
	$r{message}  //= '';
	$r{detail}   //= '';
	$r{hint}     //= '';
	return \%r;
}

# True once the REST listener at $url answers GET /readyz with 200 (polled
# every 100 ms for at most 10 s).
sub rest_ready
{
	my ($url) = @_;
	for (1 .. 100)
	{
		return 1 if `curl -s -o /dev/null -w '%{http_code}' $url/readyz` eq '200';
		Time::HiRes::sleep(0.1);
	}
	return 0;
}

# A fresh 64-hex-character root key (256 bits from the kernel).
sub random_key
{
	return unpack('H*', _urandom(32));
}

# Random printable text of the given length, with a recognisable prefix.
sub random_text
{
	my ($prefix, $len) = @_;
	my @alphabet = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
	my $bytes    = _urandom($len);
	return $prefix
	  . join('', map { $alphabet[ ord($_) % @alphabet ] } split //, $bytes);
}

sub _urandom
{
	my ($n) = @_;
	open(my $fh, '<:raw', '/dev/urandom') or die "urandom: $!";
	read($fh, my $buf, $n) == $n or die "short read from urandom";
	close $fh;
	return $buf;
}

# The server log written since byte offset $off.
sub log_since
{
	my ($node, $off) = @_;
	return slurp_file($node->logfile, $off // 0);
}

# True when any 16-character run of $secret occurs in $haystack.
sub leaks
{
	my ($haystack, $secret) = @_;
	for my $i (0 .. length($secret) - 16)
	{
		return 1 if index($haystack, substr($secret, $i, 16)) >= 0;
	}
	return 0;
}

# Contents of /proc/<pid>/<what>, or undef when unreadable.
sub read_proc
{
	my ($pid, $what) = @_;
	open(my $fh, '<:raw', "/proc/$pid/$what") or return undef;
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data // '';
}

# The postmaster's pid (from postmaster.pid) and its children's.
sub server_pids
{
	my ($node) = @_;
	open(my $pidfile, '<', $node->data_dir . '/postmaster.pid') or die $!;
	chomp(my $postmaster = <$pidfile>);
	close $pidfile;
	my @children;
	opendir(my $proc, '/proc') or die $!;
	for my $pid (grep { /^\d+$/ } readdir $proc)
	{
		my $stat = read_proc($pid, 'stat') // next;
		# ppid is the field after the parenthesised command name.
		push @children, $pid
		  if $stat =~ /\)\s+\S+\s+(\d+)/ && $1 == $postmaster;
	}
	closedir $proc;
	return ($postmaster, @children);
}

1;
