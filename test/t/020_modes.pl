# provsecret.mode (DESIGN §6): local mode without a root key uses the
# built-in development key and warns at start; deployed mode (the default)
# without a key refuses seal and resolve with 55000 and a hint; a secret
# sealed with the development key is refused in deployed mode.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node('modes', 1);
# The mode lives in its own included file so each phase can rewrite it.
my $mode_file = $node->data_dir . '/provsecret_mode.conf';
$node->append_conf('postgresql.conf', "include_if_exists = 'provsecret_mode.conf'");

sub set_mode
{
	my ($mode) = @_;
	open(my $fh, '>', $mode_file) or die "$mode_file: $!";
	print $fh "provsecret.mode = '$mode'\n" if defined $mode;
	close $fh;
}

my $dev_ref = 'managed:project/devproj/openai';
my $dev_value = random_text('dev-', 30);
my $key = random_key();

# Local mode, no key: development key, with a warning at start.
set_mode('local');
my $off = -s $node->logfile // 0;
ok(ps_start($node), 'local mode without a key starts');
like(log_since($node, $off), qr/WARNING:[^\n]*development key/i,
	'local mode without a key warns at start that the development key is used');
ps_sql($node, q{CREATE EXTENSION provsecret;
  SELECT provsecret.register_project('devproj');});
ps_sql($node, "SELECT provsecret.seal('$dev_ref', '$dev_value')");
is(ps_sql($node, "SELECT " . resolves_to($dev_ref, $dev_value)),
	't', 'local mode seals and resolves with the development key');

# Deployed mode, no key: explicitly, then by default.
for my $mode ('deployed', undef)
{
	my $label = defined $mode ? "mode = $mode" : 'default mode';
	set_mode($mode);
	$off = -s $node->logfile;
	ok(ps_restart($node), "$label without a key starts");
	unlike(log_since($node, $off), qr/WARNING:[^\n]*development key/i,
		"$label: no development-key warning");
	for my $call (
		"provsecret.seal('managed:project/devproj/other', 'x')",
		"provsecret.resolve('$dev_ref')")
	{
		my $r = ps_try($node, "SELECT $call");
		ok(!$r->{ok}, "$label without a key: $call fails");
		is($r->{sqlstate}, '55000', "$label without a key: $call gives 55000");
		like($r->{hint}, qr/\Q${\KEY_VAR}\E|provsecret\.mode/,
			"$label without a key: $call hints at what to set");
		unlike($r->{err}, qr/\Q$dev_value\E/,
			"$label without a key: $call does not echo the value");
	}
}

# Deployed mode with a real key: the dev-key secret is refused as such,
# while the real key works for new secrets.
set_mode('deployed');
ok(ps_restart($node, key => $key), 'deployed mode with a key starts');
my $r = ps_try($node, "SELECT provsecret.resolve('$dev_ref')");
ok(!$r->{ok}, 'deployed mode refuses a secret sealed with the development key');
is($r->{sqlstate}, '55000', 'dev-key secret in deployed mode: 55000');
like("$r->{message} $r->{detail}", qr/development key/i,
	'dev-key secret in deployed mode: says it was sealed with the development key');
unlike($r->{err}, qr/\Q$dev_value\E/, 'dev-key refusal does not echo the value');

ps_sql($node, q{SELECT provsecret.register_project('realproj')});
ps_sql($node, q{SELECT provsecret.seal('managed:project/realproj/openai', 'real-v')});
is(ps_sql($node,
	"SELECT " . resolves_to('managed:project/realproj/openai', 'real-v')),
	't', 'deployed mode with a key seals and resolves');

# Local mode with a key uses that key, not the development key: what it
# sealed in deployed mode still resolves, and there is no warning.
set_mode('local');
$off = -s $node->logfile;
ok(ps_restart($node, key => $key), 'local mode with a key starts');
unlike(log_since($node, $off), qr/WARNING:[^\n]*development key/i,
	'local mode with a key: no development-key warning');
is(ps_sql($node,
	"SELECT " . resolves_to('managed:project/realproj/openai', 'real-v')),
	't', 'local mode with a key resolves what the key sealed');

$node->stop;
done_testing();
