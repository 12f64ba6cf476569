# Upgrades (issue 7): every earlier released version installs, holds data,
# and `ALTER EXTENSION provsecret UPDATE` brings it to the default version
# with its data resolving and a schema equal to a fresh install's.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

# The installed extension's files (the tests run from a copy of test/).
my $extdir = `pg_config --sharedir`;
chomp $extdir;
$extdir .= '/extension';
my ($default) = slurp_file("$extdir/provsecret.control") =~ /default_version\s*=\s*'([^']+)'/;
# Every version a script names: those with an install script of their own
# and those reached by an update script only (CREATE EXTENSION ... VERSION
# installs them through the update path, as a fresh install of the default
# version does).
my %named = map { $_ => 1 }
  map { /provsecret--([0-9.]+)(?:--([0-9.]+))?\.sql$/ ? grep { defined } ($1, $2) : () }
  glob("$extdir/provsecret--*.sql");
my @released = sort grep { $_ ne $default } keys %named;
plan skip_all => 'no earlier released version to upgrade from' unless @released;

my $node = ps_node('upgrade', 7);
ok(ps_start($node, key => random_key()), 'server starts');

# Everything the extension defines, in a canonical text form.  The monthly
# partitions of audit_event are data (the audit worker creates them for
# the months it writes), not schema: they are left out.
my $describe = q{
WITH part AS (  -- partitions, their indexes (the same oid set)
  SELECT c.oid FROM pg_class c WHERE c.relispartition
  UNION SELECT x.indexrelid FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
   WHERE t.relispartition)
SELECT string_agg(d, E'\n' ORDER BY d) FROM (
  SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid)
         || coalesce(' comment ' || obj_description(p.oid, 'pg_proc'), '')
         || coalesce(' acl ' || p.proacl::text, '') AS d
    FROM pg_proc p WHERE p.pronamespace = 'provsecret'::regnamespace
  UNION ALL
  SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' rls ' || c.relrowsecurity
         || '/' || c.relforcerowsecurity || ' owner ' || c.relowner::regrole
         || coalesce(' acl ' || c.relacl::text, '')
         || coalesce(' comment ' || obj_description(c.oid, 'pg_class'), '')
         || coalesce(' view ' || pg_get_viewdef(c.oid), '')
    FROM pg_class c WHERE c.relnamespace = 'provsecret'::regnamespace
     AND c.oid NOT IN (SELECT oid FROM part)
  UNION ALL
  SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' notnull ' || a.attnotnull
         || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
         || ' generated ' || a.attgenerated::text || ' identity ' || a.attidentity::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   WHERE c.relnamespace = 'provsecret'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
     AND c.oid NOT IN (SELECT oid FROM part)
  UNION ALL
  SELECT 'index ' || indexdef FROM pg_indexes i
    JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = 'provsecret'::regnamespace
   WHERE i.schemaname = 'provsecret' AND c.oid NOT IN (SELECT oid FROM part)
  UNION ALL
  SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint
   WHERE connamespace = 'provsecret'::regnamespace
     AND NOT coalesce((SELECT relispartition FROM pg_class WHERE oid = conrelid), false)
  UNION ALL
  SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' '
         || coalesce(qual, '') || ' ' || coalesce(with_check, '')
    FROM pg_policies WHERE schemaname = 'provsecret'
     AND NOT EXISTS (SELECT 1 FROM pg_class t WHERE t.relnamespace = 'provsecret'::regnamespace
                       AND t.relname = tablename AND t.relispartition)
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' ' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'provsecret'::regnamespace AND NOT t.tgisinternal
     AND NOT c.relispartition
  UNION ALL
  SELECT 'config ' || c.relname || ' ' || coalesce(x.cond, '')
    FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
    JOIN pg_class c ON c.oid = x.cfg WHERE e.extname = 'provsecret'
) described};

ps_sql($node, 'CREATE EXTENSION provsecret');
my $fresh = ps_sql($node, $describe);
ps_sql($node, 'DROP EXTENSION provsecret CASCADE');

for my $version (@released)
{
	ps_sql($node, "CREATE EXTENSION provsecret VERSION '$version'");
	ps_sql($node, q{
	  SELECT provsecret.register_project('up1', 'upco');
	  SELECT provsecret.seal('managed:project/up1/OPENAI_API_KEY', 'upgrade-value-1', 'kept');
	  SELECT provsecret.seal('managed:project/up1/OPENAI_API_KEY', 'upgrade-value-2');
	  SELECT provsecret.seal('managed:company/upco/anthropic', 'upgrade-value-3');
	  SELECT provsecret.grant('db:postgres', 'project/up1', ARRAY['read']);
	  SELECT provsecret.register_project('solo');
	  SELECT provsecret.seal('managed:project/solo/OPENAI_API_KEY', 'upgrade-solo-1');
	  SELECT provsecret.seal('managed:project/solo/OPENAI_API_KEY', 'upgrade-solo-2');
	  SELECT provsecret.grant('db:postgres', 'project/solo', ARRAY['read']);
	  SELECT provsecret.seal('managed:project/early/OPENAI_API_KEY', 'upgrade-early-1');
	  SELECT provsecret.seal('managed:project/early/OPENAI_API_KEY', 'upgrade-early-2');
	  SELECT provsecret.register_project('early', 'upco');
	  SELECT provsecret.resolve('managed:company/upco/anthropic');});

	ps_sql($node, 'ALTER EXTENSION provsecret UPDATE');
	is(ps_sql($node, q{SELECT extversion FROM pg_extension WHERE extname = 'provsecret'}),
		$default, "$version: updated to $default");
	is(ps_sql($node, q{SELECT provsecret.resolve('managed:project/up1/OPENAI_API_KEY')
	                     || ',' || provsecret.resolve('managed:company/upco/anthropic')}),
		'upgrade-value-2,upgrade-value-3', "$version: data sealed before the update resolves");
	is(ps_sql($node, q{SELECT string_agg(value_version::text, ',' ORDER BY value_version)
	                     FROM provsecret.versions('managed:project/up1/OPENAI_API_KEY')}),
		'1,2', "$version: kept versions survive");
	is(ps_sql($node, q{SELECT count(*) FROM provsecret.grants WHERE target = 'project/up1'}),
		'1', "$version: grants survive");
	# The audit chain verifies across the update: every event sealed and
	# revealed on the old version is in its company's chain now.
	is(ps_sql($node, q{SELECT bool_and(ok) FROM provsecret.verify_audit_chain()}),
		't', "$version: every audit chain verifies after the update");
	# a project without a company: its rows move to a company of its own,
	# which no view shows, and what was sealed before still resolves
	is(ps_sql($node, 'SELECT ' . resolves_to('managed:project/solo/OPENAI_API_KEY', 'upgrade-solo-2')),
		't', "$version: a company-less project's secret sealed before the update resolves");
	is(ps_sql($node, q{SELECT string_agg(value_version::text, ',' ORDER BY value_version)
	                     FROM provsecret.versions('managed:project/solo/OPENAI_API_KEY')}),
		'1,2', "$version: its kept versions survive");
	is(ps_sql($node, q{SELECT (SELECT company FROM provsecret.project WHERE project = 'solo')
	                     || ',' || (SELECT count(*) FROM provsecret.ai_provider_secret WHERE company = '~solo')
	                     || ',' || (SELECT count(*) FROM provsecret.ai_provider_secret_version WHERE company = '~solo')
	                     || ',' || (SELECT count(*) FROM provsecret.access_grant WHERE company = '~solo')
	                     || ',' || (SELECT count(*) FROM provsecret.data_key WHERE company = '~solo')}),
		'~solo,1,1,1,1', "$version: its rows carry its own company");
	is(ps_sql($node, q{SELECT count(*) FILTER (WHERE company IS NULL) || ',' || count(*)
	                     FROM provsecret.secrets WHERE project = 'solo'}),
		'1,1', "$version: the secrets view shows no company for it");
	is(ps_sql($node, q{SELECT count(*) FROM provsecret.ai_provider_secret WHERE company IS NULL}),
		'0', "$version: no secret is left without a company");
	# attaching it later moves its rows to the company, and it still resolves
	ps_sql($node, q{SELECT provsecret.register_project('solo', 'upco')});
	is(ps_sql($node, q{SELECT (SELECT company FROM provsecret.project WHERE project = 'solo')
	                     || ',' || (SELECT count(*) FROM provsecret.ai_provider_secret WHERE company = 'upco' AND project = 'solo')
	                     || ',' || (SELECT count(*) FROM provsecret.ai_provider_secret_version WHERE company = 'upco' AND project = 'solo')
	                     || ',' || (SELECT count(*) FROM provsecret.company WHERE company = '~solo')}),
		'upco,1,1,0', "$version: attached to a company, its rows move there");
	is(ps_sql($node, 'SELECT ' . resolves_to('managed:project/solo/OPENAI_API_KEY', 'upgrade-solo-2')),
		't', "$version: and its secret still resolves");
	is(ps_sql($node, q{SELECT bool_and(ok) FROM provsecret.verify_audit_chain()}),
		't', "$version: every audit chain still verifies after the attach");
	my $upgraded = ps_sql($node, $describe);
	# A project attached to a company on the old version: before 0.5.0 the
	# attach left its data key behind, which 0.6.0 moves to the company.
	is(ps_sql($node, 'SELECT ' . resolves_to('managed:project/early/OPENAI_API_KEY', 'upgrade-early-2')),
		't', "$version: a project attached on the old version resolves after the update");
	ps_sql($node, q{SELECT provsecret.rollback('managed:project/early/OPENAI_API_KEY', 1)});
	is(ps_sql($node, 'SELECT ' . resolves_to('managed:project/early/OPENAI_API_KEY', 'upgrade-early-1')),
		't', "$version: and so does its kept version, rolled back to");
	is(ps_sql($node, q{SELECT string_agg(DISTINCT company, ',') FROM provsecret.data_key
	                    WHERE tenant = 'project/early'}),
		'upco', "$version: its data key is under its company");
	is(ps_sql($node, q{SELECT sum(secrets) = (SELECT count(*) FROM provsecret.ai_provider_secret)
	                     FROM provsecret.key_status}),
		't', "$version: key_status counts every secret");
	is($upgraded, $fresh, "$version: schema after the update equals a fresh install of $default");
	ps_sql($node, 'DROP EXTENSION provsecret CASCADE');
}

$node->stop;
done_testing();
