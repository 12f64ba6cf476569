# provsecret.authenticate(): Keycloak access tokens verified in the server.
#
# Tokens and keys are minted with jose (test/unit/fixtures/mint.mjs); the JWKS
# comes from a file, then from a loopback HTTP server (jwks-server.mjs) to
# cover the URL path: caching, key rotation with one rate-limited refetch on
# an unknown kid, redirects refused, size cap, timeouts and cancellation.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Copy qw(copy move);
use IPC::Run;

my $fixtures = "$ENV{TESTDIR}/unit/fixtures";
my $tmp = PostgreSQL::Test::Utils::tempdir;

# jose, once per checkout.
if (!-d "$fixtures/node_modules/jose")
{
	system_or_bail('npm', 'ci', '--prefix', $fixtures, '--no-audit',
		'--no-fund', '--silent');
}
system_or_bail('node', "$fixtures/mint.mjs", 'keys', $tmp);

# The stand-in for Keycloak's certs endpoint serves $tmp/served.json.
copy("$tmp/jwks.json", "$tmp/served.json") or die "copy: $!";
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my ($http_out, $http_err) = ('', '');
my $http = IPC::Run::start(
	[ 'node', "$fixtures/jwks-server.mjs", $http_port, "$tmp/served.json" ],
	'>', \$http_out, '2>', \$http_err);
my $wait = IPC::Run::timer(30);
$http->pump until $http_out =~ /listening/ || $wait->is_expired;
BAIL_OUT("JWKS server did not start: $http_err") unless $http_out =~ /listening/;
END { $http->kill_kill if $http; }

my $base = "http://127.0.0.1:$http_port";
my $issuer = "$base/realms/test";
my $certs = "$base/realms/test/protocol/openid-connect/certs";

sub served_count
{
	my $out = `curl -s $base/stats`;
	return decode_json($out)->{certs};
}

my $node = PostgreSQL::Test::Cluster->new('authenticate');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'provsecret'
provsecret.jwt_issuer = '$issuer'
provsecret.jwt_audience = 'provsecret'
provsecret.jwt_jwks_file = '$tmp/jwks.json'
# The test framework logs every statement; what matters here is what an
# error logs by default (log_min_error_statement = error).
log_statement = 'none'
});
if ($ENV{PROVSECRET_TEST_ROOT_KEY})
{
	$ENV{CLOUDGRID_PROVIDER_SECRET_ENCRYPTION_KEY} =
	  $ENV{PROVSECRET_TEST_ROOT_KEY};
}
else
{
	$node->append_conf('postgresql.conf', "provsecret.mode = 'local'");
}
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION provsecret');

# Change a provsecret.jwt_* setting and wait until new sessions see it.
sub set_conf
{
	my ($name, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'");
	$node->reload;
	$node->poll_query_until('postgres', "SELECT current_setting('$name') = '$value'")
	  or die "$name did not reach '$value'";
}

# authenticate() in a fresh session: (subject or undef, SQLSTATE line, stderr).
sub authenticate
{
	my ($token, %opt) = @_;
	my ($out, $err) = ('', '');
	my $pre = $opt{pre} // '';
	$node->psql(
		'postgres',
		"\\set VERBOSITY verbose\n${pre}SELECT provsecret.authenticate('$token');",
		stdout => \$out,
		stderr => \$err,
		extra_params => $opt{user} ? [ '-U', $opt{user} ] : []);
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($err eq '' ? $out : undef, $state // '', $err);
}

my %message = (
	MISSING => 'no bearer token',
	TOO_LARGE => 'token is too large',
	MALFORMED => 'token is malformed',
	ALG_NOT_ALLOWED => 'token algorithm is not allowed',
	UNKNOWN_KID => 'token is signed with an unknown key',
	KEY_MISMATCH => 'token algorithm does not match its key',
	BAD_SIGNATURE => 'token signature is invalid',
	EXPIRED => 'token has expired',
	NOT_YET_VALID => 'token is not yet valid',
	WRONG_ISSUER => 'token issuer is not trusted',
	WRONG_AUDIENCE => 'token audience does not match',
	WRONG_TYPE => 'token is not an access token',
	BAD_CLAIMS => 'token claims are missing or invalid');

# Signature segments of every token, to prove none reaches the server log.
my @secrets;

sub check_case
{
	my ($c) = @_;
	my ($subject, $state, $err) = authenticate($c->{token});
	my (undef, undef, $sig) = split /\./, $c->{token};
	push @secrets, $sig if $sig && length($sig) > 20;
	if ($c->{expect} eq 'OK')
	{
		is($subject, $c->{subject} // 'f1b2c3d4-0000-4000-8000-00000000a11c',
			"accepted: $c->{name}")
		  or diag $err;
	}
	else
	{
		ok( $state eq '28000'
			  && $err =~ /bearer token rejected: \Q$message{$c->{expect}}\E/
			  && (length($c->{token}) < 8 || index($err, $c->{token}) < 0),
			"rejected with 28000 ($c->{expect}): $c->{name}")
		  or diag $err;
	}
}

#
# File JWKS: every case of keycloak-tokens.mjs, minted now.  Time-sensitive
# cases (20 s inside the 30 s leeway) run first.
#
my $minted = decode_json(
	scalar `node $fixtures/mint.mjs cases $tmp '$issuer' provsecret`);
my @cases = @{ $minted->{cases} };
check_case($_) for grep { !$_->{algorithms} } @cases;
is(time() - $minted->{now} < 9, 1, 'leeway cases ran inside their window');

set_conf('provsecret.jwt_algorithms', 'RS256');
check_case($_) for grep { $_->{algorithms} } @cases;
my ($rs) = grep { $_->{name} eq 'valid RS256 Keycloak token' } @cases;
check_case($rs);
set_conf('provsecret.jwt_algorithms', 'RS256,ES256,EdDSA');

# Settings refuse what must never be accepted.
for my $bad ('none', 'HS256', 'RS256,HS256', '')
{
	my ($ret, undef, $err) = $node->psql('postgres',
		"ALTER SYSTEM SET provsecret.jwt_algorithms = '$bad'");
	isnt($ret, 0, "jwt_algorithms refuses '$bad'");
}
for my $bad ('http://10.1.2.3/certs', 'ftp://127.0.0.1/certs', 'file:///etc/passwd')
{
	my ($ret) = $node->psql('postgres',
		"ALTER SYSTEM SET provsecret.jwt_jwks_url = '$bad'");
	isnt($ret, 0, "jwt_jwks_url refuses $bad");
}

#
# Principals: a role with no grant gains the token's for one transaction.
#
$node->safe_psql(
	'postgres', q{
CREATE ROLE app LOGIN;
SELECT provsecret.register_project('p-roles');
SELECT provsecret.register_project('p-groups');
SELECT provsecret.register_project('p-client');
SELECT provsecret."grant"('role:secrets-reader', 'project/p-roles', ARRAY['read']);
SELECT provsecret."grant"('group:/team-a', 'project/p-groups', ARRAY['describe']);
SELECT provsecret."grant"('client:provsecret-cli', 'project/p-client', ARRAY['write']);
});
my $token = $rs->{token};
my $perms = q{SELECT provsecret.has_permission(NULL, 'p-roles', 'read'),
  provsecret.has_permission(NULL, 'p-groups', 'describe'),
  provsecret.has_permission(NULL, 'p-client', 'write'),
  provsecret.has_permission(NULL, 'p-client', 'delete')};
my $out = $node->safe_psql(
	'postgres', qq{
$perms;
BEGIN;
SELECT provsecret.authenticate('$token');
$perms;
SELECT provsecret.current_principal();
COMMIT;
$perms;
},
	extra_params => [ '-U', 'app' ]);
is( $out,
	join("\n",
		'f|f|f|f', 'f1b2c3d4-0000-4000-8000-00000000a11c',
		't|t|t|f', 'user:f1b2c3d4-0000-4000-8000-00000000a11c',
		'f|f|f|f'),
	'token principals (role:, group:, client:, user:) hold for the transaction only');

# A rejected token inside a savepoint leaves no earlier token in force.
my ($expired) = grep { $_->{name} eq 'expired' } @cases;
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
BEGIN;
SELECT provsecret.authenticate('$token');
SAVEPOINT s;
SELECT provsecret.authenticate('$expired->{token}');
ROLLBACK TO s;
SELECT provsecret.has_permission(NULL, 'p-roles', 'read');
COMMIT;
},
	on_error_stop => 0,
	extra_params => [ '-U', 'app' ]);
like($stdout, qr/\nf$/, 'a failed authenticate() clears the earlier token');

#
# A long-lived process (a session here, the REST worker in production)
# remembers the tokens it verified; that never outlives what made a token
# valid: its exp, its key being published, the settings it was checked with.
#
set_conf('provsecret.jwt_leeway', '0');
my $short = `node $fixtures/mint.mjs short $tmp '$issuer' provsecret 3`;
my $short_exp = time() + 3;
my $cached = $node->background_psql('postgres', on_error_stop => 0);
sub cached_auth
{
	my ($tok) = @_;
	$cached->{stderr} = '';
	my ($o, $failed) = $cached->query("SELECT provsecret.authenticate('$tok')");
	return $failed ? undef : $o;
}
is(cached_auth($short), 'short-lived', 'cache: short-lived token accepted');
is(cached_auth($short), 'short-lived', 'cache: accepted again by the same process');
sleep($short_exp + 1.5 - time()) if time() < $short_exp + 1.5;
is(cached_auth($short), undef, 'cache: rejected once expired, though verified before');
like($cached->{stderr}, qr/token has expired/, 'cache: ... as expired');

my $subject_rs = 'f1b2c3d4-0000-4000-8000-00000000a11c';
is(cached_auth($token), $subject_rs, 'cache: RS256 token accepted');
my $published = decode_json(do { local (@ARGV, $/) = "$tmp/jwks.json"; <> });
open my $wfh, '>', "$tmp/jwks.json.new" or die;
print $wfh encode_json({ keys => [ grep { $_->{kid} ne 'rsa1' } @{ $published->{keys} } ] });
close $wfh;
copy("$tmp/jwks.json", "$tmp/jwks.json.orig") or die;
move("$tmp/jwks.json.new", "$tmp/jwks.json") or die;
is(cached_auth($token), undef, 'cache: rejected at once when its key is withdrawn');
move("$tmp/jwks.json.orig", "$tmp/jwks.json") or die;
is(cached_auth($token), $subject_rs, 'cache: accepted when the key is back');
set_conf('provsecret.jwt_audience', 'another-api');
is(cached_auth($token), undef, 'cache: rejected after the audience setting changed');
set_conf('provsecret.jwt_audience', 'provsecret');
is(cached_auth($token), $subject_rs, 'cache: accepted with the audience back');
$cached->quit;
set_conf('provsecret.jwt_leeway', '30s');

#
# File source: a rotated file is picked up without a reload.
#
my $rotated = $minted->{rotated};
my (undef, $state) = authenticate($rotated);
is($state, '28000', 'file: token of a key not yet published is rejected');
copy("$tmp/jwks-rotated.json", "$tmp/jwks.json.new") or die;
move("$tmp/jwks.json.new", "$tmp/jwks.json") or die;
my ($subject) = authenticate($rotated);
is($subject, 'rotated-user', 'file: rotated file picked up at once');

# SIGHUP onto another file: the old keys are gone.
copy("$tmp/jwks.json", "$tmp/only-ec.json") or die;
open my $fh, '>', "$tmp/only-ec.json" or die;
my $all = decode_json(do { local (@ARGV, $/) = "$tmp/jwks-rotated.json"; <> });
print $fh encode_json({ keys => [ grep { $_->{kid} eq 'ec1' } @{ $all->{keys} } ] });
close $fh;
set_conf('provsecret.jwt_jwks_file', "$tmp/only-ec.json");
(undef, $state) = authenticate($token);
is($state, '28000', 'reload onto a new file drops the old keys');

# A broken file is an error of its own, not a token rejection.
set_conf('provsecret.jwt_jwks_file', "$tmp/missing.json");
(undef, $state) = authenticate($token);
is($state, '58030', 'missing JWKS file gives 58030');

#
# URL source.
#
set_conf('provsecret.jwt_jwks_file', '');
set_conf('provsecret.jwt_jwks_url', $certs);
my ($vtoken) = map { $_->{token} } grep { $_->{name} eq 'valid ES256 token' } @cases;

my $session = $node->background_psql('postgres', on_error_stop => 0);
sub session_auth
{
	my ($tok) = @_;
	$session->{stderr} = '';
	my ($o, $failed) = $session->query("SELECT provsecret.authenticate('$tok')");
	return $failed ? undef : $o;
}
my $count0 = served_count();
is(session_auth($token), 'f1b2c3d4-0000-4000-8000-00000000a11c', 'url: token verified');
is(session_auth($vtoken), 'f1b2c3d4-0000-4000-8000-00000000a11c', 'url: second token');
is(served_count(), $count0 + 1, 'url: JWKS fetched once and cached');

my $t_refetch = time();
is(session_auth($rotated), undef, 'url: unknown kid rejected');
like($session->{stderr}, qr/unknown key/, 'url: ... as an unknown key');
is(served_count(), $count0 + 2, 'url: unknown kid caused one refetch');
is(session_auth($minted->{nokid}), undef, 'url: another unknown kid rejected');
is(served_count(), $count0 + 2, 'url: no second refetch within 10 s');

copy("$tmp/jwks-rotated.json", "$tmp/served.json") or die;
is(session_auth($rotated), undef, 'url: rotated key still unknown inside the 10 s window');
is(served_count(), $count0 + 2, 'url: still no refetch');
sleep(10.5 - (time() - $t_refetch)) if time() - $t_refetch < 10.5;
is(session_auth($rotated), 'rotated-user', 'url: after 10 s the unknown kid refetches and verifies');
is(served_count(), $count0 + 3, 'url: exactly one more fetch');
is(session_auth($token), 'f1b2c3d4-0000-4000-8000-00000000a11c', 'url: old key still served');
is(served_count(), $count0 + 3, 'url: from the cache');
$session->quit;

# Transport policy: each failure is 58030 and bounded in time.
for my $case ([ 'redirect', qr/HTTP 302/ ], [ 'big', qr/larger than/ ],
	[ 'nothing-here', qr/HTTP 404/ ])
{
	my ($path, $why) = @$case;
	set_conf('provsecret.jwt_jwks_url', "$base/$path");
	my $before = served_count();
	my (undef, $st, $err) = authenticate($token);
	ok($st eq '58030' && $err =~ $why, "url: /$path refused with 58030")
	  or diag $err;
	is(served_count(), $before, "url: /$path did not reach the certs endpoint")
	  if $path eq 'redirect';
}

set_conf('provsecret.jwt_jwks_url', "$base/slow");
my $t0 = time();
my (undef, $st, $err) = authenticate($token);
my $took = time() - $t0;
ok($st eq '58030' && $err =~ /Timeout/i && $took > 4 && $took < 9,
	sprintf('url: unresponsive server times out (58030) in %.1f s', $took))
  or diag $err;

$t0 = time();
(undef, $st, $err) = authenticate($token, pre => "SET statement_timeout = '1s';\n");
$took = time() - $t0;
ok($st eq '57014' && $took < 3,
	sprintf('url: a waiting fetch is cancellable (statement_timeout, %.1f s)', $took))
  or diag $err;

# A host name is resolved by provsecret itself (no libcurl resolver thread).
set_conf('provsecret.jwt_jwks_url', "http://localhost:$http_port/realms/test/protocol/openid-connect/certs");
my ($who, undef, $lerr) = authenticate($token);
is($who, 'f1b2c3d4-0000-4000-8000-00000000a11c', 'url: host name localhost works')
  or diag $lerr;

set_conf('provsecret.jwt_jwks_url', "http://127.0.0.1:1/certs");
(undef, $st, $err) = authenticate($token);
ok($st eq '58030' && $err =~ /could not fetch the JWKS/, 'url: connection refused gives 58030')
  or diag $err;

# No token, and no token fragment, ever reached the server log.
my $log = slurp_file($node->logfile);
my @leaked = grep { index($log, $_) >= 0 } @secrets;
is(scalar(@leaked), 0, 'no token appears in the server log');
like($log, qr/bearer token rejected/, 'the log does record rejections');

$node->stop;
done_testing();
