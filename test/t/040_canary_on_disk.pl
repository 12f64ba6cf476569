# Plaintext never reaches disk (DESIGN §5): after sealing and rotating a
# canary value and a CHECKPOINT, no file of the data directory (heap, WAL,
# commit log, stats, temp files) nor the server log holds the canary, its
# hex or its base64.  Controls first show the scan finds each form when a
# plain table does hold it.
use strict;
use warnings;

use File::Find;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key  = random_key();
my $node = ps_node('canary', 3, wal_level => 'replica');

# Needles for a canary: raw bytes, hex both cases, and base64 / base64url
# at each of the three alignments it can start at inside a longer blob
# (dropping the groups that mix in neighbouring bytes).
sub needles
{
	my ($canary) = @_;
	my %n = (raw => $canary, hex => unpack('H*', $canary),
		HEX => uc unpack('H*', $canary));
	for my $shift (0 .. 2)
	{
		my $b64 = encode_base64(("\0" x $shift) . $canary, '');
		$b64 = substr($b64, $shift ? 4 : 0);
		$b64 = substr($b64, 0, length($b64) - 4);
		$n{"base64+$shift"} = $b64;
		(my $url = $b64) =~ tr{+/}{-_};
		$n{"base64url+$shift"} = $url;
	}
	return \%n;
}

# Every regular file under the data directory, plus the server log.
sub scan
{
	my ($canary) = @_;
	my $needles = needles($canary);
	my @files = ($node->logfile);
	find({ wanted => sub { push @files, $File::Find::name if -f $_ },
		   no_chdir => 1 }, $node->data_dir);
	my %hits;    # form => [files]
	for my $file (@files)
	{
		open(my $fh, '<:raw', $file) or next;    # vanished temp file
		local $/;
		my $data = <$fh> // '';
		close $fh;
		for my $form (keys %$needles)
		{
			push @{ $hits{$form} }, $file
			  if index($data, $needles->{$form}) >= 0;
		}
	}
	return \%hits;
}

sub where { my ($h, $form) = @_; return join(' ', @{ $h->{$form} // [] }) }

ok(ps_start($node, key => $key), 'server starts');

# Controls: a plain table holding one canary raw, one as base64, one as hex.
my ($c_raw, $c_b64, $c_hex) =
  map { random_text("control-$_-", 40) } qw(raw b64 hex);
ps_sql($node, 'CREATE TABLE control (v text)');
ps_sql($node, "INSERT INTO control VALUES ('$c_raw'),
  (encode(convert_to('$c_b64', 'UTF8'), 'base64')),
  (encode(convert_to('$c_hex', 'UTF8'), 'hex'))");
ps_sql($node, 'CHECKPOINT');
my $hits = scan($c_raw);
like(where($hits, 'raw'), qr{/base/}, 'control: raw canary found in the heap');
like(where($hits, 'raw'), qr{/pg_wal/}, 'control: raw canary found in the WAL');
my $b64_hits = scan($c_b64);
ok(scalar(grep { /^base64\+/ } keys %$b64_hits), 'control: base64 form found');
ok(scan($c_hex)->{hex}, 'control: hex form found');

# Canaries 1-3 are sent reversed and turned around by the server, so the
# statement text in the log (log_statement = all) never holds them: they
# test storage alone.
my @canaries = map { random_text("canary-$_-", 48) } 1 .. 3;
my $ref = 'managed:project/canary/openai';
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('canary');});
sub seal
{
	my ($reference, $canary) = @_;
	my $reversed = reverse $canary;
	ps_sql($node, "SELECT provsecret.seal('$reference', reverse('$reversed'))");
}
sub canary_resolves
{
	my ($reference, $canary) = @_;
	return ps_sql($node, "SELECT " . resolves_to($reference, $canary));
}

seal($ref, $canaries[0]);
is(canary_resolves($ref, $canaries[0]), 't', 'canary 1 sealed and resolves');
seal($ref, $canaries[1]);
is(canary_resolves($ref, $canaries[1]), 't', 'rotated to canary 2, which resolves');
seal('managed:project/canary/doomed', $canaries[2]);
is(canary_resolves('managed:project/canary/doomed', $canaries[2]), 't',
	'canary 3 sealed and resolves');
is(ps_sql($node, q{SELECT provsecret.delete_secret('managed:project/canary/doomed')}),
	't', 'canary 3 deleted');

# Canary 4 as a user sends it, a plain literal under log_statement = all:
# the statement text must be kept out of the log too.
push @canaries, random_text('canary-4-', 48);
ps_sql($node,
	"SELECT provsecret.seal('managed:project/canary/literal', '$canaries[3]')");
is(canary_resolves('managed:project/canary/literal', $canaries[3]), 't',
	'canary 4, sealed from a literal, resolves');
ps_sql($node, 'CHECKPOINT');

sub no_canary
{
	my ($when) = @_;
	for my $i (0 .. $#canaries)
	{
		my $h = scan($canaries[$i]);
		is(join(', ', map { "$_ in " . where($h, $_) } sort keys %$h), '',
			"$when: canary " . ($i + 1) . ' in no form in any file');
	}
}
no_canary('after CHECKPOINT');

# A clean shutdown writes the stats files and a final checkpoint.
$node->stop;
no_canary('after shutdown');

done_testing();
