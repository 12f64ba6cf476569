# Two-phase commit: a transaction that changes secrets, grants or projects
# (and CREATE EXTENSION itself, as Citus propagates it to its workers) can
# be prepared.  COMMIT PREPARED, run from another session, retires the REST
# worker's kept listings (listing_cache.c's utility hook), so the next
# listing shows a prepared seal, and a prepared revoke ends a kept answer.
# Until then the prepared change shows nowhere; ROLLBACK PREPARED leaves
# nothing.  With provsecret.notify_changes on, PostgreSQL's own rule on
# NOTIFY refuses the PREPARE.  Values are compared by digest only.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

# REST with a token of scripts/dev-token.mjs
my $jwt = PostgreSQL::Test::Utils::tempdir;
my $source = $ENV{PROVSECRET_SOURCE_DIR} // "$FindBin::RealBin/../..";
my $token = `node "$source/scripts/dev-token.mjs" "$jwt" tp-user 600`;
chomp $token;
die 'no token' unless $token =~ /^[\w-]+\.[\w-]+\.[\w-]+$/;
my $rest_port = PostgreSQL::Test::Cluster::get_free_port();

# One REST worker: every request meets the answers it kept.
my $node = ps_node('two_phase', 9,
	max_prepared_transactions           => 4,
	'provsecret.rest_listen_addresses' => "'127.0.0.1'",
	'provsecret.rest_port'             => $rest_port,
	'provsecret.rest_workers'          => 1,
	'provsecret.jwt_issuer'            => "'http://localhost/realms/dev'",
	'provsecret.jwt_audience'          => "'provsecret'",
	'provsecret.jwt_jwks_file'         => "'$jwt/jwks.json'");
ok(ps_start($node, key => random_key()), 'server starts with a key');

# CREATE EXTENSION as Citus runs it on a worker node: prepared, then
# committed from another session.
ps_sql($node, q{BEGIN; CREATE EXTENSION provsecret; PREPARE TRANSACTION 'ext';});
ps_sql($node, q{COMMIT PREPARED 'ext'});
my ($version) = slurp_file("$source/provsecret.control") =~ /default_version\s*=\s*'([^']+)'/;
is(ps_sql($node, q{SELECT extversion FROM pg_extension WHERE extname = 'provsecret'}),
	$version, 'CREATE EXTENSION can be prepared and committed');

my $url = "http://127.0.0.1:$rest_port";
ok(rest_ready($url), 'REST is ready');

# (HTTP code, sorted keys) of the workspace's listing
my $list = sub {
	my ($ws) = @_;
	my $out = `curl -s -w '\\n%{http_code}' -H 'Authorization: Bearer $token' $url/v1/workspaces/$ws/secrets`;
	my ($body, $code) = $out =~ /\A(.*)\n(\d+)\z/s or die "no answer from REST for $ws";
	return ($code, '') unless $code eq '200';
	return ($code, join(',', sort map { $_->{key} } @{ decode_json($body)->{secrets} }));
};
my $prepare = sub {
	my ($gid, $sql) = @_;
	ps_sql($node, "BEGIN; $sql; PREPARE TRANSACTION '$gid';");
	is(ps_sql($node, "SELECT count(*) FROM pg_prepared_xacts WHERE gid = '$gid'"), '1',
		"$gid is prepared");
};

my $value = random_text('tp-', 24);
ps_sql($node, q{
	SELECT provsecret.seal('managed:project/tp/a', 'va');
	SELECT provsecret.register_project('tp2');
	SELECT provsecret.seal('managed:project/tp2/c', 'vc');
	SELECT provsecret."grant"('user:tp-user', 'project/tp', ARRAY['read', 'describe']);});

# 1. A prepared seal shows once COMMIT PREPARED returns.
is_deeply([ $list->('tp') ], [ '200', 'a' ], 'the listing shows a');
is_deeply([ $list->('tp') ], [ '200', 'a' ], 'twice (the second may be the kept answer)');
$prepare->('seal', "SELECT provsecret.seal('managed:project/tp/b', '$value')");
is_deeply([ $list->('tp') ], [ '200', 'a' ], 'a prepared seal does not show');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/tp/b'}),
	'0', 'nor in SQL');
ps_sql($node, q{COMMIT PREPARED 'seal'});
is_deeply([ $list->('tp') ], [ '200', 'a,b' ], 'after COMMIT PREPARED the next listing shows it');
is(ps_sql($node, 'SELECT ' . resolves_to('managed:project/tp/b', $value)), 't',
	'and it resolves to the sealed value');

# 2. A prepared grant lets the next listing of another project through.
is(($list->('tp2'))[0], '403', 'tp2 is not granted: 403');
$prepare->('grant', q{SELECT provsecret."grant"('user:tp-user', 'project/tp2', ARRAY['read', 'describe'])});
is(($list->('tp2'))[0], '403', 'a prepared grant grants nothing yet');
ps_sql($node, q{COMMIT PREPARED 'grant'});
is_deeply([ $list->('tp2') ], [ '200', 'c' ], 'after COMMIT PREPARED tp2 lists');

# 3. A prepared revoke ends the kept answer at COMMIT PREPARED.
is_deeply([ $list->('tp2') ], [ '200', 'c' ], 'tp2 lists again (kept)');
$prepare->('revoke', q{SELECT provsecret.revoke('user:tp-user', 'project/tp2')});
is_deeply([ $list->('tp2') ], [ '200', 'c' ], 'a prepared revoke revokes nothing yet');
ps_sql($node, q{COMMIT PREPARED 'revoke'});
is(($list->('tp2'))[0], '403', 'after COMMIT PREPARED the kept answer is gone: 403');

# 4. ROLLBACK PREPARED of a seal leaves nothing.
is_deeply([ $list->('tp') ], [ '200', 'a,b' ], 'tp lists a and b');
$prepare->('gone', "SELECT provsecret.seal('managed:project/tp/z', '$value')");
ps_sql($node, q{ROLLBACK PREPARED 'gone'});
is_deeply([ $list->('tp') ], [ '200', 'a,b' ], 'after ROLLBACK PREPARED nothing shows');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/tp/z'}),
	'0', 'nor is there a row');

# 5. With provsecret.notify_changes on, a change sends NOTIFY, and
# PostgreSQL itself refuses to prepare a transaction that did.
my $r = ps_try($node, "SET provsecret.notify_changes = on; BEGIN; "
	  . "SELECT provsecret.seal('managed:project/tp/n', '$value'); PREPARE TRANSACTION 'notify';");
is($r->{sqlstate}, '0A000', "notify_changes on: PostgreSQL refuses PREPARE ($r->{message})");
like($r->{message}, qr/NOTIFY/, 'because of the NOTIFY');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/tp/n'}),
	'0', 'and the seal is gone');

is(ps_sql($node, 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing is left prepared');

$node->stop;
done_testing();
