# A bound workspace's seal and delete change the backend last: the metadata
# row is written (and locked) first, so a failing check, a metadata write
# that fails or a lock that cannot be had never reaches the backend (the
# stand-in Vault counts writes), and concurrent seals of one secret queue on
# the row lock.  What remains (documented in docs/DESIGN.md): a transaction
# that aborts after the backend answered leaves the backend changed.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use PostgreSQL::Test::Utils;
use Test::More;

use FakeBackends;
use ProvsecretTest;

my $vault_token = random_text('vt-canary-', 24);
my $fb = FakeBackends->start(vault_token => $vault_token,
	infisical_token => random_text('st-', 24), json_token => random_text('jt-', 24));

my $node = ps_node('binding_order', 6,
	'provsecret.outbound_allowed_hosts' => "'127.0.0.1'");
ok(ps_start($node, key => random_key()), 'server starts');
my $base = $fb->url;
ps_sql($node, qq{
	CREATE EXTENSION provsecret;
	SELECT provsecret.register_project('ws1', NULL);
	SELECT provsecret.seal('managed:project/ws1/vault-token', '$vault_token');
	SELECT provsecret.create_resolver('vault', 'project/ws1', 'vault-kv2', '$base',
		'{}', 'managed:project/ws1/vault-token');
	SELECT provsecret.bind_workspace('ws1', 'vault');
	SELECT provsecret.seal('managed:project/ws1/blocked-old', 'old-value');
});
sub writes { return $fb->counter('writes.vault'); }
sub value_in_vault
{
	my ($name) = @_;
	my $r = ps_try($node, "SELECT provsecret.resolve('external:vault/$name')");
	return $r->{ok} ? ($r->{out} =~ s/\s+$//r) : $r->{sqlstate};
}

# --- a failing metadata check never reaches the backend -----------------------------
ps_sql($node, q{
	CREATE FUNCTION public.refuse_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF (CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END) LIKE 'blocked%' THEN
			RAISE EXCEPTION 'metadata check failed' USING ERRCODE = 'check_violation';
		END IF;
		RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	END $$;
	CREATE TRIGGER refuse_blocked BEFORE INSERT OR UPDATE OR DELETE ON provsecret.bound_secret
		FOR EACH ROW EXECUTE FUNCTION public.refuse_blocked();
});
my $before = writes();
my $r = ps_try($node, "SELECT provsecret.seal('managed:project/ws1/blocked-new', 'sk-never-canary')");
is($r->{sqlstate}, '23514', 'a seal whose metadata write fails raises that error');
is(writes(), $before, '... without a call to the backend');
is(value_in_vault('blocked-new'), 'P0002', '... which does not have the value');
$r = ps_try($node, "SELECT provsecret.seal('managed:project/ws1/blocked-old', 'sk-never-canary')");
is($r->{sqlstate}, '23514', 'a rotation whose metadata update fails raises that error');
is(writes(), $before, '... without a call to the backend');
is(value_in_vault('blocked-old'), 'old-value', '... which keeps the old value');
$r = ps_try($node, "SELECT provsecret.delete_secret('managed:project/ws1/blocked-old')");
is($r->{sqlstate}, '23514', 'a delete whose metadata delete fails raises that error');
is(writes(), $before, '... without a call to the backend');
is(value_in_vault('blocked-old'), 'old-value', '... which still has the value');
ps_sql($node, 'DROP TRIGGER refuse_blocked ON provsecret.bound_secret');

# --- the metadata row lock comes before the backend -----------------------------------
my $first = $node->background_psql('postgres', on_error_stop => 0);
my $second = $node->background_psql('postgres', on_error_stop => 0);
$first->query_safe('BEGIN');
$first->query_safe("SELECT provsecret.seal('managed:project/ws1/race', 'race-first')");
$before = writes();
$second->query("SET lock_timeout = '300ms'");
$second->query("SELECT provsecret.seal('managed:project/ws1/race', 'race-second')");
like($second->{stderr}, qr/lock timeout/, 'a seal that cannot lock the metadata row fails');
is(writes(), $before, '... without a call to the backend');
$second->{stderr} = '';
$second->query("RESET lock_timeout");

# a second writer queues behind the first, then writes after it
$second->query_until(qr/started/,
	"\\echo started\nSELECT provsecret.seal('managed:project/ws1/race', 'race-second');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
  or die 'the second seal never waited';
is(writes(), $before, 'a concurrent seal waits for the row before calling the backend');
$first->query_safe('COMMIT');
$second->query("SELECT 'second done'");
is($second->{stderr}, '', '... then goes ahead');
is(writes(), $before + 1, '... with its own backend write');
is(value_in_vault('race'), 'race-second', '... the later value in the backend');
is(ps_sql($node, q{SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:project/ws1/race'}),
	'2', '... and in the metadata (version 2)');

# --- the residual window: an abort after the backend answered ---------------------------
$first->query_safe('BEGIN');
$first->query_safe("SELECT provsecret.seal('managed:project/ws1/ghost', 'ghost-value')");
$first->query_safe('ROLLBACK');
is(value_in_vault('ghost'), 'ghost-value',
	'a seal rolled back after its backend write leaves the value in the backend (documented)');
is(ps_sql($node, q{SELECT count(*) FROM provsecret.secrets WHERE reference = 'managed:project/ws1/ghost'}),
	'0', '... without metadata');
ps_sql($node, "SELECT provsecret.seal('managed:project/ws1/ghost', 'ghost-2')");
is(ps_sql($node, q{SELECT value_version FROM provsecret.secrets WHERE reference = 'managed:project/ws1/ghost'})
	  . ' ' . value_in_vault('ghost'), '1 ghost-2', 'the next seal reconciles them');

$first->quit;
$second->quit;
$node->stop;
$fb->stop;
done_testing();
