# Root key changes across restarts (DESIGN §6): a different key is refused
# with a clear 55000 naming the expected key's fingerprint, the old key as
# _PREVIOUS makes the secrets readable again, and a key shorter than 32
# characters is refused with a log line while seal/resolve give 55000.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $ref   = 'managed:project/tap/openai';
my $value = random_text('sk-tap-', 40);
my ($key_a, $key_b, $key_c) = (random_key(), random_key(), random_key());

my $node = ps_node('keys', 0);

ok(ps_start($node, key => $key_a), 'server starts with key A');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('tap');
  SELECT provsecret.register_project('tapshort');});
ps_sql($node, "SELECT provsecret.seal('$ref', '$value')");
is(ps_sql($node, "SELECT " . resolves_to($ref, $value)),
	't', 'sealed with key A resolves under key A');
my $fp_a = ps_sql($node,
	q{SELECT root_key_fingerprint FROM provsecret.key_status WHERE root_key = 'current'});
like($fp_a, qr/^[0-9a-f]{16}$/, 'key_status shows the fingerprint of key A');

# Hex runs of 8 or more characters: where a fingerprint can be.
sub hex_tokens
{
	my ($r) = @_;
	my %seen;
	$seen{ lc $_ } = 1
	  for "$r->{message} $r->{detail} $r->{hint}" =~ /([0-9A-Fa-f]{8,})/g;
	return \%seen;
}

sub wrong_key_error
{
	my ($label, $key) = @_;
	my $r = ps_try($node, "SELECT provsecret.resolve('$ref')");
	ok(!$r->{ok}, "$label: resolve fails");
	is($r->{sqlstate}, '55000', "$label: SQLSTATE 55000, not a decrypt failure");
	like($r->{message}, qr/not the key/i,
		"$label: message says it is not the key");
	like($r->{message}, qr/sealed with/i,
		"$label: message says the secrets were sealed with another key");
	unlike($r->{err}, qr/\Q$value\E/, "$label: error does not echo the value");
	for my $k ($key_a, $key) {
		unlike($r->{err}, qr/\Q@{[substr($k, 0, 16)]}\E/i,
			"$label: error shows no root key material");
	}
	return $r;
}

ok(ps_restart($node, key => $key_b), 'server starts with key B');
my $err_b = wrong_key_error('key B', $key_b);

ok(ps_restart($node, key => $key_c), 'server starts with key C');
my $err_c = wrong_key_error('key C', $key_c);

# The expected fingerprint depends on key A only, so both wrong keys must
# name the same one; a fingerprint of the current key would differ.
my ($fp_b, $fp_c) = (hex_tokens($err_b), hex_tokens($err_c));
my @expected = grep { $fp_c->{$_} } sort keys %$fp_b;
is_deeply(\@expected, [$fp_a],
	'both wrong keys name the expected fingerprint: key A\'s')
  or diag("key B said: $err_b->{detail}\nkey C said: $err_c->{detail}");
for my $fp (@expected)
{
	ok(index(lc $key_a, $fp) < 0,
		"fingerprint $fp is not a piece of the root key itself");
}

ok(ps_restart($node, key => $key_b, previous => $key_a),
	'server starts with key B and PREVIOUS = A');
is(ps_sql($node, "SELECT " . resolves_to($ref, $value)),
	't', 'key B plus PREVIOUS = key A resolves the secret sealed under A');

# 31 characters: one short of the minimum.
my $short = substr(random_text('short-', 40), 0, 31);
my $log_off = -s $node->logfile;
ok(ps_restart($node, key => $short),
	'server starts with a 31-character key (and refuses to use it)');
my $log = log_since($node, $log_off);
my @lines = split /\n/, $log;
my $explained = 0;
for my $i (0 .. $#lines)
{
	next unless $lines[$i] =~ /(?:LOG|WARNING|ERROR|FATAL):.*\Q${\KEY_VAR}\E/;
	my $block = join("\n", @lines[ $i .. ($i + 2 > $#lines ? $#lines : $i + 2) ]);
	$explained = 1 if $block =~ /\b32\b|too short/i;
}
ok($explained, 'the log says the key is shorter than 32 characters')
  or diag($log);
unlike($log, qr/\Q$short\E/, 'the log does not show the short key');
# A tenant without a data key yet: a short key wrongly accepted would seal.
for my $call ("provsecret.seal('managed:project/tapshort/openai', 'x')",
	"provsecret.resolve('$ref')")
{
	my $r = ps_try($node, "SELECT $call");
	is($r->{sqlstate}, '55000', "short key: $call gives 55000");
	like("$r->{message} $r->{detail}", qr/\b32\b|short/i,
		"short key: $call says the key is too short");
	isnt($r->{hint}, '', "short key: $call has a hint");
	unlike($r->{err}, qr/\Q$short\E/, "short key: error does not echo the key");
}

# 32 characters of plain text are a valid key ("hex, base64 or any text").
my $key_32 = substr(random_text('text-key-', 40), 0, 32);
ok(ps_restart($node, key => $key_32), 'server starts with a 32-character key');
ps_sql($node, q{SELECT provsecret.register_project('tap32')});
ps_sql($node, "SELECT provsecret.seal('managed:project/tap32/openai', 'v32')");
is(ps_sql($node,
	"SELECT " . resolves_to('managed:project/tap32/openai', 'v32')),
	't', 'a 32-character text key seals and resolves');

# Nothing the wrong keys did damaged the original secret.
ok(ps_restart($node, key => $key_a), 'server starts with key A again');
is(ps_sql($node, "SELECT " . resolves_to($ref, $value)),
	't', 'key A still resolves after the failed attempts');

$node->stop;
done_testing();
