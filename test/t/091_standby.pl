# Hot standby (issue 7 item 7): a streaming replica made with pg_basebackup
# resolves managed secrets; each reveal's event is recorded on the primary
# (forwarded over libpq) before the value is returned, with the standby's
# principal, and the chain verifies there.  Without a reachable primary, or
# when the primary refuses the forwarding role, the reveal fails closed
# (55000).  Writes on the standby fail with the read-only error (25006).
# A denied reveal on the standby fails as on the primary (42501), its
# access.denied event recorded on the primary.  After promotion, reveals
# are recorded locally and the continued chain verifies.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use IO::Socket::INET;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $key  = random_key();
my $conf = join("\n",
	"shared_preload_libraries = 'provsecret'",
	"provsecret.rest_listen_addresses = ''",
	"provsecret.audit_timeout = '3s'",
	"log_statement = 'none'");
my %port;
%port = (port => $ENV{PROVSECRET_TAP_PORT_BASE}) if defined $ENV{PROVSECRET_TAP_PORT_BASE};
my $primary = PostgreSQL::Test::Cluster->new('primary', %port);
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
ps_start($primary, key => $key) or die 'primary did not start';
$primary->safe_psql('postgres', q{
	CREATE EXTENSION provsecret;
	CREATE ROLE standby_reader SUPERUSER;
	CREATE ROLE plain LOGIN;
	SELECT provsecret.seal('managed:project/p1/standby_a', 'standby-canary');
});
$primary->backup('base');

%port = (port => $ENV{PROVSECRET_TAP_PORT_BASE} + 1) if defined $ENV{PROVSECRET_TAP_PORT_BASE};
my $standby = PostgreSQL::Test::Cluster->new('standby', %port);
$standby->init_from_backup($primary, 'base', has_streaming => 1);
ps_start($standby, key => $key) or die 'standby did not start';
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

# 1. A reveal on the standby returns the value and its event is on the
# primary, under the standby session's principal, before it returns.
my $sql = q{SET ROLE standby_reader;
	SELECT provsecret.current_principal() || '|' || provsecret.resolve('managed:project/p1/standby_a')};
my ($principal, $value) = split /\|/, $standby->safe_psql('postgres', $sql);
is($value, 'standby-canary', 'the standby resolves a managed secret');
like($principal, qr/standby_reader/, "standby principal $principal");
is($primary->safe_psql('postgres', qq{
	SELECT count(*) || '|' || min(detail) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND reference = 'managed:project/p1/standby_a'
	  AND principal = '$principal' AND outcome = 'ok' AND value_version = 1}),
	'1|forwarded by a standby', 'its event is in the primary\'s audit_log with the standby principal');
$standby->safe_psql('postgres', $sql) for 1 .. 3;
is($primary->safe_psql('postgres', q{
	SELECT count(*) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND reference = 'managed:project/p1/standby_a'}),
	'4', 'one event per reveal over a kept connection');
is($primary->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies on the primary');

# 1b. A denied reveal: the same SQLSTATE as on the primary, and the same
# access.denied event, recorded on the primary before the error returns.
my $denied_sql = q{SET ROLE plain; SELECT provsecret.resolve('managed:project/p1/standby_a')};
my $on_primary = ps_try($primary, $denied_sql);
my $on_standby = ps_try($standby, $denied_sql);
is($on_primary->{sqlstate}, '42501', "a denied reveal on the primary: 42501 ($on_primary->{message})");
is($on_standby->{sqlstate}, $on_primary->{sqlstate}, 'on the standby: the same SQLSTATE');
is($on_standby->{message}, $on_primary->{message}, 'and the same message');
unlike($on_standby->{out}, qr/standby-canary/, 'no value returned');
is($primary->safe_psql('postgres', q{
	SELECT string_agg(outcome || '|' || detail, ',' ORDER BY id) FROM provsecret.audit_log
	WHERE action = 'access.denied' AND reference = 'managed:project/p1/standby_a'
	  AND principal = 'db:plain'}),
	'denied|read permission required,denied|read permission required; forwarded by a standby',
	'both denials are in the primary\'s audit_log, the standby\'s marked as forwarded');

# 2. Writes on the standby: PostgreSQL's read-only error.
for my $w (
	[ seal   => q{SELECT provsecret.seal('managed:project/p1/standby_a', 'x')} ],
	[ new    => q{SELECT provsecret.seal('managed:project/p1/standby_new', 'x')} ],
	[ delete => q{SELECT provsecret.delete_secret('managed:project/p1/standby_a')} ])
{
	my $r = ps_try($standby, $w->[1]);
	is($r->{sqlstate}, '25006', "$w->[0] on the standby: 25006 ($r->{message})");
}

# 3. The primary refuses a connection role outside provsecret_forwarder.
$standby->append_conf('postgresql.conf',
	"provsecret.primary_conninfo = 'host=" . $primary->host . ' port=' . $primary->port . " user=plain'");
$standby->reload;
my $r = ps_try($standby, q{SELECT provsecret.resolve('managed:project/p1/standby_a')});
is($r->{sqlstate}, '55000', 'a role without provsecret_forwarder: reveal fails closed');
like($r->{message}, qr/audit event could not be recorded: the primary refused it/, $r->{message});
unlike($r->{out}, qr/standby-canary/, 'no value returned');
$primary->safe_psql('postgres', 'GRANT provsecret_forwarder TO plain');
is($standby->safe_psql('postgres', q{SELECT provsecret.resolve('managed:project/p1/standby_a')}),
	'standby-canary', 'granted provsecret_forwarder: the reveal goes through');

# 4. Primary down: the reveal fails closed within provsecret.audit_timeout.
$primary->stop('fast');
my $t0 = time;
$r = ps_try($standby, q{SELECT provsecret.resolve('managed:project/p1/standby_a')});
my $took = time - $t0;
is($r->{sqlstate}, '55000', 'primary stopped: 55000');
like($r->{message}, qr/audit event could not be recorded/, $r->{message});
unlike($r->{out}, qr/standby-canary/, 'no value returned');
cmp_ok($took, '<', 3 + 2, sprintf('failed within the timeout (%.1f s)', $took));

# A primary that accepts TCP but never answers: the timeout bounds the wait.
my $silent = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
  or die "listen: $!";
$standby->append_conf('postgresql.conf',
	"provsecret.primary_conninfo = 'host=127.0.0.1 port=" . $silent->sockport . "'");
$standby->reload;
$t0 = time;
$r = ps_try($standby, q{SELECT provsecret.resolve('managed:project/p1/standby_a')});
$took = time - $t0;
is($r->{sqlstate}, '55000', 'silent primary: 55000');
like($r->{message}, qr/within provsecret.audit_timeout/, $r->{message});
cmp_ok($took, '>=', 2.5, sprintf('waited for the timeout (%.1f s)', $took));
cmp_ok($took, '<', 3 + 2, 'and no longer');

# 5. Promotion: the standby becomes a primary.  Its reveals are recorded
# by its own audit worker (primary_conninfo still names the silent
# listener: a forwarded reveal would take the timeout and fail), and the
# chain it continues verifies.
$silent->blocking(0);
1 while defined $silent->accept;    # the timed-out attempt above
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby is promoted');
$t0 = time;
($principal, $value) = split /\|/, $standby->safe_psql('postgres', $sql);
$took = time - $t0;
is($value, 'standby-canary', 'a reveal on the promoted server resolves');
cmp_ok($took, '<', 2.5, sprintf('without waiting on the old primary (%.1f s)', $took));
is($standby->safe_psql('postgres', qq{
	SELECT count(*) || '|' || coalesce(min(detail), 'local') FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND reference = 'managed:project/p1/standby_a'
	  AND principal = '$principal' AND at > now() - interval '1 minute'
	  AND detail IS DISTINCT FROM 'forwarded by a standby'}),
	'1|local', 'its event is written locally, not forwarded');
is($standby->safe_psql('postgres', q{
	SELECT count(*) FROM provsecret.audit_log
	WHERE action = 'secret.revealed' AND reference = 'managed:project/p1/standby_a'
	  AND detail = 'forwarded by a standby'}),
	'5', 'the events the standby forwarded before, replicated back from the old primary');
is($standby->safe_psql('postgres', 'SELECT bool_and(ok) FROM provsecret.verify_audit_chain()'),
	't', 'the chain verifies on the promoted server');
ok(!defined $silent->accept, 'nothing connected to the silent primary after the promotion');
is($standby->safe_psql('postgres', q{SELECT provsecret.seal('managed:project/p1/standby_a', 'promoted-canary')}),
	'managed:project/p1/standby_a', 'and it accepts writes');

$standby->stop;
done_testing();
