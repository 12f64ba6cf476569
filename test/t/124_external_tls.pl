# The resolver option ca_file: a backend whose certificate is signed by a
# private CA is refused (58030, certificate) until the resolver names that
# CA's file, then resolves, with verification still on (a certificate of
# another CA, or a name mismatch, stays refused).  ca_file must be an
# absolute path (22023).  The CA and certificates are made here with the
# openssl command into a temporary directory; the stand-in backends serve
# HTTPS on 127.0.0.1 with them.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $dir = PostgreSQL::Test::Utils::tempdir('tls');

sub openssl
{
	my @cmd = ('openssl', @_);
	my ($out, $err);
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err)
	  or die "openssl @_ failed: $err";
}

# A CA, and a server certificate it signs for the given subjectAltName.
sub make_ca
{
	my ($name) = @_;
	openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-nodes', '-keyout', "$dir/$name-ca.key", '-out', "$dir/$name-ca.pem",
		'-days', '2', '-subj', "/CN=provsecret test $name CA");
}

sub make_server
{
	my ($ca, $name, $san) = @_;
	openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', "$dir/$name.key", '-out', "$dir/$name.csr", '-subj', '/CN=provsecret test server');
	open(my $fh, '>', "$dir/$name.ext") or die $!;
	print $fh "subjectAltName=$san\nbasicConstraints=CA:FALSE\n"
	  . "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
	close $fh;
	openssl('x509', '-req', '-in', "$dir/$name.csr", '-CA', "$dir/$ca-ca.pem",
		'-CAkey', "$dir/$ca-ca.key", '-CAcreateserial', '-out', "$dir/$name.pem",
		'-days', '2', '-extfile', "$dir/$name.ext");
}

make_ca('private');
make_ca('other');
make_server('private', 'server', 'IP:127.0.0.1');
make_server('private', 'misnamed', 'DNS:elsewhere.example');

my $vault_token = random_text('vt-canary-', 24);
my %tokens = (vault_token => $vault_token, infisical_token => random_text('st-', 24),
	json_token => random_text('jt-', 24));
my $fb = FakeBackends->start(%tokens, tls_cert => "$dir/server.pem", tls_key => "$dir/server.key");
my $fb_misnamed = FakeBackends->start(%tokens, tls_cert => "$dir/misnamed.pem",
	tls_key => "$dir/misnamed.key");

my $node = ps_node('tls', 4,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'");
ok(ps_start($node, key => random_key()), 'server starts');
ps_sql($node, 'CREATE EXTENSION provsecret');

my $value = random_text('sk-tls-canary-', 24);
$fb->vault_put('secret', 'team/openai', { value => $value });
my $https = $fb->tls_url;
like($https, qr{^https://127\.0\.0\.1:\d+$}, 'the stand-in serves HTTPS on loopback');
my $opts = '"timeout_ms":3000,"breaker_failures":0';
ps_sql($node, qq{
	SELECT provsecret.register_project('ws1', NULL);
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.create_resolver('no-ca', 'project/ws1', 'vault-kv2', '$https',
		'{$opts}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('with-ca', 'project/ws1', 'vault-kv2', '$https',
		'{$opts,"ca_file":"$dir/private-ca.pem"}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('wrong-ca', 'project/ws1', 'vault-kv2', '$https',
		'{$opts,"ca_file":"$dir/other-ca.pem"}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('missing-ca', 'project/ws1', 'vault-kv2', '$https',
		'{$opts,"ca_file":"$dir/nowhere.pem"}', 'managed:project/ws1/vault-token');
	SELECT provsecret.create_resolver('misnamed', 'project/ws1', 'vault-kv2', '} . $fb_misnamed->tls_url . qq{',
		'{$opts,"ca_file":"$dir/private-ca.pem"}', 'managed:project/ws1/vault-token');
});

my $r = ps_try($node, "SELECT provsecret.resolve('external:no-ca/team/openai')");
is($r->{sqlstate}, '58030', 'without ca_file, the private CA is not trusted: 58030');
like($r->{message}, qr/^external resolver no-ca: backend call failed \(.*certificate/i,
	'... naming the resolver and the certificate');
ok(!leaks($r->{err}, $vault_token) && !leaks($r->{err}, $value), '... without token or value');

is(ps_sql($node, "SELECT provsecret.resolve('external:with-ca/team/openai')"), $value,
	'with ca_file naming the CA, the value resolves over HTTPS');

$r = ps_try($node, "SELECT provsecret.resolve('external:wrong-ca/team/openai')");
is($r->{sqlstate}, '58030', 'ca_file of another CA: 58030');
like($r->{message}, qr/certificate/i, '... a certificate problem');
$r = ps_try($node, "SELECT provsecret.resolve('external:missing-ca/team/openai')");
is($r->{sqlstate}, '58030', 'a ca_file that does not exist: 58030');
$r = ps_try($node, "SELECT provsecret.resolve('external:misnamed/team/openai')");
is($r->{sqlstate}, '58030', 'a certificate of the right CA for another name: 58030 (host checked)');
like($r->{message}, qr/^external resolver misnamed: backend call failed/, '... naming the resolver');

# --- validation -----------------------------------------------------------------
for my $bad ('ca.pem', './ca.pem', '', '/etc/../ca.pem')
{
	$r = ps_try($node, qq{SELECT provsecret.create_resolver('bad', 'project/ws1', 'http-json',
		'$https', '{"ca_file":"$bad"}')});
	is($r->{sqlstate}, '22023', "ca_file '$bad' is refused at create (22023)");
	like($r->{message}, qr/option ca_file must be an absolute path/, '... saying it must be an absolute path');
}
$r = ps_try($node, q{SELECT provsecret.alter_resolver('with-ca', options => '{"ca_file":"relative/ca.pem"}')});
is($r->{sqlstate}, '22023', 'and at alter');
is(ps_sql($node, q{SELECT options->>'ca_file' FROM provsecret.resolvers WHERE name = 'with-ca'}),
	"$dir/private-ca.pem", 'the resolvers view shows the CA file');

# altering the CA in or out takes effect at once
ps_sql($node, qq{SELECT provsecret.alter_resolver('no-ca', options => '{$opts,"ca_file":"$dir/private-ca.pem"}')});
is(ps_sql($node, "SELECT provsecret.resolve('external:no-ca/team/openai')"), $value,
	'alter_resolver adding ca_file: resolves');
ps_sql($node, qq{SELECT provsecret.alter_resolver('no-ca', options => '{$opts}')});
$r = ps_try($node, "SELECT provsecret.resolve('external:no-ca/team/openai')");
is($r->{sqlstate}, '58030', 'removing it again: refused again');

$node->stop;
$fb->stop;
$fb_misnamed->stop;
done_testing();
