# Bytes that are not UTF-8 (DESIGN §3): in a UTF8 database PostgreSQL
# refuses them before provsecret sees them, so this test uses a SQL_ASCII
# database, where any byte reaches the parser.  Every part of a reference
# refuses them with 22023, messages never carry the raw bytes, and a value
# is stored and returned byte for byte.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

$ENV{CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY} =
  $ENV{PROVSECRET_TEST_ROOT_KEY} // ('5a' x 32);

my $node = PostgreSQL::Test::Cluster->new('non_utf8',
	port => $ENV{PROVSECRET_TAP_PORT_NON_UTF8} // 55436);
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'provsecret'
provsecret.mode = 'deployed'
# the audit worker writes events in the extension's database
provsecret.database = 'ascii'
provsecret.rest_listen_addresses = ''
});
$node->start;
$node->safe_psql('postgres',
	"CREATE DATABASE ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('ascii',
	"CREATE EXTENSION provsecret; SELECT provsecret.register_project('p8')");

# SQLSTATE and message of a statement, as psql reports them.
sub fails_with
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('ascii',
		"\\set VERBOSITY verbose\n$sql",
		extra_params => [ '-v', 'ON_ERROR_STOP=1' ]);
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($state // "none (rc $rc)", $err);
}

my @bad = (
	[ 'project',       "E'managed:project/p\\xff/KEY'" ],
	[ 'name',          "E'managed:project/p8/K\\xc3\\x28'" ],
	[ 'company',       "E'managed:company/\\xe2\\x82/KEY'" ],
	[ 'env name',      "E'env:K\\x80'" ],
	[ 'resolver',      "E'external:v\\xfe/a'" ],
	[ 'path',          "E'external:vault/a\\xc0\\xafb'" ],
	[ 'overlong /',    "E'external:vault/a\\xc0\\xaf..\\xc0\\xafb'" ],
	[ 'valid UTF-8 é', "E'managed:project/p8/caf\\xc3\\xa9'" ]);
for my $case (@bad)
{
	my ($what, $literal) = @$case;
	my ($state, $err) = fails_with("SELECT provsecret.resolve($literal)");
	is($state, '22023', "non-ASCII bytes in the $what: 22023");
	ok($err !~ /[\x80-\xff]/, "the $what error carries no raw byte");
}
my ($state) = fails_with(
	"SELECT provsecret.seal(E'managed:project/p8/\\xff', 'canary-8bit')");
is($state, '22023', 'seal refuses them too');

# A value is bytes to provsecret: stored and returned exactly.
$node->safe_psql('ascii',
	"SELECT provsecret.seal('managed:project/p8/BYTES', E'canary-\\x80\\xff\\x01-end')");
is( $node->safe_psql('ascii',
		"SELECT encode(textsend(provsecret.resolve('managed:project/p8/BYTES')), 'hex')"),
	unpack('H*', "canary-\x80\xff\x01-end"),
	'a value with arbitrary bytes round-trips byte for byte');

$node->stop;
done_testing();
