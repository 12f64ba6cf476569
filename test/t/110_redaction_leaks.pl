# The leak matrix (DESIGN §7, issue 4 item 4): canary values passed to
# provsecret.seal() and bearer tokens passed to provsecret.authenticate(),
# as literals (simple protocol), as bind parameters (extended protocol,
# through pgbench), as EXECUTE arguments, inside a PL/pgSQL function, in
# successful and failing calls, never reach the server log (stderr, csvlog,
# jsonlog), pg_stat_statements, pg_stat_activity, audit rows, temp files,
# nor the error text a client receives for provsecret's own errors.
# Controls show each place is searched for real: an unrelated statement's
# literal is in the log, a DO block is in pg_stat_statements (the documented
# residual risk), a plain sort spills a canary into a temp file.
use strict;
use warnings;

use File::Find;
use Digest::MD5 qw(md5_hex);
use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/lib";
use ProvsecretTest;

my $node = ps_node(
	'leaks', 0,
	shared_preload_libraries => q{'provsecret,pg_stat_statements,auto_explain'},
	log_statement                     => 'all',
	log_min_duration_statement        => 0,
	log_min_error_statement           => 'error',
	log_parameter_max_length          => -1,
	log_parameter_max_length_on_error => -1,
	log_temp_files                    => 0,
	# every format: csvlog and jsonlog have their own query/context fields
	logging_collector => 'on',
	log_destination   => q{'stderr,csvlog,jsonlog'},
	log_directory     => q{'log'},
	'auto_explain.log_min_duration'      => 0,
	'auto_explain.log_nested_statements' => 'on',
	'auto_explain.log_analyze'           => 'on',
	# plan output with every expression, constants included: Output: lines
	'auto_explain.log_verbose' => 'on',
	# nested statements too: the ones inside PL/pgSQL functions
	'pg_stat_statements.track' => 'all');
my $key = random_key();
ok(ps_start($node, key => $key), 'server starts with the whole logging matrix');

ps_sql($node, q{CREATE EXTENSION provsecret;
  CREATE EXTENSION pg_stat_statements;
  CREATE ROLE nogrant LOGIN;
  SELECT provsecret.register_project('leak');});

# One canary per case, so a failure names the case that leaked.  Short
# prefixes: a 16-character window never lies inside a prefix alone.
my %canary;
sub canary
{
	my ($case, $len) = @_;
	return $canary{$case} = random_text("c$case-", ($len // 40) - length("c$case-"));
}

# True when $haystack holds a piece (31 characters or more) of $secret.
sub holds
{
	my ($haystack, $secret) = @_;
	return leaks($haystack, $secret) if length($secret) <= 64;
	for (my $i = 0; $i + 16 <= length($secret); $i += 16)
	{
		return 1 if index($haystack, substr($secret, $i, 16)) >= 0;
	}
	return 0;
}

# Run a one-statement pgbench script once with the given variables, in
# extended (bind parameters) or prepared mode.  Returns (ok, stdout, stderr).
sub pgbench_once
{
	my ($script, $vars, %opt) = @_;
	my ($fh, $file) = tempfile(DIR => PostgreSQL::Test::Utils::tempdir, SUFFIX => '.sql');
	print $fh "$script\n";
	close $fh;
	my @cmd = ('pgbench', '-n', '-t', '1', '-c', '1',
		'-M', $opt{mode} // 'extended',
		'-h', $node->host, '-p', $node->port,
		'-U', $opt{user} // 'postgres', '-f', $file,
		map { ('-D', "$_=$vars->{$_}") } sort keys %$vars);
	push @cmd, 'postgres';
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	# pgbench exits 0 even when its only client aborted; read its summary
	my $failed = $err =~ /aborted|ERROR:/ || $out !~ /number of transactions actually processed: 1\//;
	return ($ok && !$failed, $out, $err);
}

# md5 of a resolved value: comparing with the canary itself would send it.
sub resolves_md5
{
	my ($ref) = @_;
	return ps_sql($node, "SELECT md5(provsecret.resolve('$ref'))");
}

# All server logs: the collector's stderr, csv and json files, and the
# postmaster's own output file.
sub server_logs
{
	my %logs = (postmaster => slurp_file($node->logfile));
	for my $file (glob($node->data_dir . '/log/*'))
	{
		my ($kind) = $file =~ /\.(log|csv|json)$/ or next;
		$logs{$kind} .= slurp_file($file);
	}
	return \%logs;
}

# The lines of $haystack holding a piece of $secret, that piece masked (the
# canary itself is not printed), to say which line leaked.
sub where_held
{
	my ($haystack, $secret) = @_;
	my @found;
	for my $line (split /\n/, $haystack)
	{
		next unless holds($line, $secret);
		for (my $i = 0; $i + 16 <= length($secret); $i++)
		{
			my $piece = substr($secret, $i, 16);
			$line =~ s/\Q$piece\E/<canary>/g;
		}
		$line =~ s/(<canary>)[A-Za-z0-9]*/$1/g;
		push @found, substr($line, 0, 300);
		last if @found >= 5;
	}
	return join("\n", @found);
}

my %client_err;    # case => what the client received for our own errors

# Controls: an unrelated statement and an unrelated error, logged verbatim.
canary('U1');
canary('U2');
ps_sql($node, "SELECT '$canary{U1}' AS unrelated");
my $r = ps_try($node, "SELECT '$canary{U2}'::int AS unrelated_error");
is($r->{sqlstate}, '22P02', 'control: unrelated failing cast fails');

# --- Simple protocol: literals ----------------------------------------
canary('L1');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/literal', '$canary{L1}')");
is(resolves_md5('managed:project/leak/literal'), md5_hex($canary{L1}),
	'literal: sealed and resolves');

canary('L2', 10_001);
$r = ps_try($node, "SELECT provsecret.seal('managed:project/leak/long', '$canary{L2}')");
is($r->{sqlstate}, '22001', 'literal of 10,001 characters: 22001');
$client_err{L2} = $r->{err};

canary('L3');
$r = ps_try($node, "SET ROLE nogrant;
  SELECT provsecret.seal('managed:project/leak/denied', '$canary{L3}')");
is($r->{sqlstate}, '42501', 'literal by a role without grant: 42501');
$client_err{L3} = $r->{err};

canary('L4');
$r = ps_try($node, "SELECT provsecret.seal('managed:project/bad name/x', '$canary{L4}')");
is($r->{sqlstate}, '22023', 'literal with a malformed reference: 22023');
$client_err{L4} = $r->{err};

# Comments between the function name and its arguments.
canary('L8');
canary('L9');
ps_sql($node, "SELECT provsecret.seal /* a comment */ ('managed:project/leak/comment', '$canary{L8}')");
ps_sql($node, "SELECT provsecret.seal -- a comment
  ('managed:project/leak/comment', '$canary{L9}')");
is(resolves_md5('managed:project/leak/comment'), md5_hex($canary{L9}),
	'literal after comments: sealed');

# A value pasted by mistake into the reference argument is not echoed.
canary('L5');
$r = ps_try($node, "SELECT provsecret.seal('$canary{L5}', 'x')");
is($r->{sqlstate}, '22023', 'canary as the reference: 22023');
$client_err{L5} = $r->{err};

# PostgreSQL's own errors in a seal() statement quote the input to the
# client (who sent it); the server log must not.
canary('L6');
canary('L6b');
$r = ps_try($node, "SELECT provsecret.seal('managed:project/leak/cast', '$canary{L6}'),
  '$canary{L6b}'::int");
is($r->{sqlstate}, '22P02', 'failed cast in the seal() statement: 22P02');

canary('L7');
# one token for the lexer: letters and digits only
$canary{L7b} = random_text('cL7b', 36);
$r = ps_try($node,
	"SELECT provsecret.seal('managed:project/leak/syntax', '$canary{L7}' $canary{L7b})");
is($r->{sqlstate}, '42601', 'syntax error next to the value: 42601');
like($r->{message}, qr/\Q$canary{L7b}\E/,
	'control: the syntax error names the token (to the client)');

canary('A1');
$r = ps_try($node, "SELECT provsecret.authenticate('$canary{A1}')");
ok(!$r->{ok}, 'authenticate() rejects a made-up bearer token');

# SQL-level PREPARE / EXECUTE with literal arguments: only the PREPARE
# text names seal(); the EXECUTE statement carries the value.
canary('P1');
canary('P2', 10_001);
canary('P3');
ps_sql($node, "PREPARE leak_p(text, text) AS SELECT provsecret.seal(\$1, \$2);
  EXECUTE leak_p('managed:project/leak/execute', '$canary{P1}')");
is(resolves_md5('managed:project/leak/execute'), md5_hex($canary{P1}),
	'EXECUTE with literal arguments: sealed');
$r = ps_try($node, "PREPARE leak_p(text, text) AS SELECT provsecret.seal(\$1, \$2);
  EXECUTE leak_p('managed:project/leak/execute', '$canary{P2}')");
is($r->{sqlstate}, '22001', 'EXECUTE with a literal of 10,001 characters: 22001');
$client_err{P2} = $r->{err};
ps_sql($node, qq{PREPARE "Leak P"(text, text) AS SELECT provsecret.seal(\$1, \$2);
  EXECUTE "Leak P"('managed:project/leak/execute', '$canary{P3}')});

# --- PL/pgSQL with literals ---------------------------------------------
# The function source holds the literal by the author's choice (pg_proc);
# what is tested is calling it, so its CREATE is kept out of
# pg_stat_statements, which stores utility statements verbatim.
canary('F1');
canary('F2');
ps_sql($node, "SET pg_stat_statements.track_utility = off;
CREATE FUNCTION leak_fn() RETURNS text LANGUAGE plpgsql AS \$f\$
BEGIN
  RETURN provsecret.seal('managed:project/leak/function', '$canary{F1}');
END \$f\$;
CREATE FUNCTION leak_fn_denied() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
  PERFORM provsecret.seal('managed:project/leak/function2', '$canary{F2}');
END \$f\$;
GRANT EXECUTE ON FUNCTION leak_fn_denied() TO nogrant;");
ps_sql($node, 'SELECT leak_fn()');
is(resolves_md5('managed:project/leak/function'), md5_hex($canary{F1}),
	'PL/pgSQL: sealed from a literal inside a function');
$r = ps_try($node, 'SET ROLE nogrant; SELECT leak_fn_denied()');
is($r->{sqlstate}, '42501', 'PL/pgSQL by a role without grant: 42501');
$client_err{F2} = $r->{err};

# --- Extended protocol: bind parameters ---------------------------------
my ($ok, $out, $err);
canary('B1');
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/leak/bind', val => $canary{B1} });
ok($ok, 'bind parameters: seal succeeds') or diag($err);
is(resolves_md5('managed:project/leak/bind'), md5_hex($canary{B1}),
	'bind parameters: the value resolves');

canary('B2');
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/leak/prepared', val => $canary{B2} },
	mode => 'prepared');
ok($ok, 'prepared statement: seal succeeds') or diag($err);

canary('B3', 10_001);
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/leak/bindlong', val => $canary{B3} });
like($err, qr/value too long|22001|10,?000/i, 'bind parameter of 10,001 characters fails');
$client_err{B3} = $err;

canary('B4');
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/leak/binddenied', val => $canary{B4} },
	user => 'nogrant');
like($err, qr/permission denied/i, 'bind parameter by a role without grant fails');
$client_err{B4} = $err;

canary('B5');
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/bad name/x', val => $canary{B5} });
ok(!$ok, 'bind parameter with a malformed reference fails');
$client_err{B5} = $err;

canary('A2');
($ok, $out, $err) = pgbench_once('SELECT provsecret.authenticate(:tok);',
	{ tok => $canary{A2} });
ok(!$ok, 'authenticate() with a bind parameter rejects a made-up token');


# --- Redaction by meaning: however seal() and authenticate() are spelled ----
# Quoted, Unicode-escaped (with and without UESCAPE), named arguments, a
# search_path lookup, a call in FROM; literals and bind parameters; the
# plan output of auto_explain (log_verbose) at top level and nested.
canary('M1');
ps_sql($node, qq{SELECT provsecret.U&"se\\0061l"('managed:project/leak/uescape', '$canary{M1}')});
is(resolves_md5('managed:project/leak/uescape'), md5_hex($canary{M1}),
	'U&-escaped seal: sealed');
canary('M2');
ps_sql($node, qq{SELECT provsecret.U&"se!0061l" UESCAPE '!'('managed:project/leak/uescape', '$canary{M2}')});
canary('M3');
ps_sql($node, qq{SELECT "provsecret"."seal"(credential_value => '$canary{M3}',
  reference => 'managed:project/leak/named')});
canary('M4');
ps_sql($node, qq{SET search_path = provsecret, public;
  SELECT * FROM seal('managed:project/leak/from', '$canary{M4}')});
canary('M5');
$r = ps_try($node, qq{SELECT provsecret.U&"se\\0061l"('managed:project/leak/uescape', '$canary{M5}'),
  '$canary{M5}x'::int});
is($r->{sqlstate}, '22P02', 'U&-escaped seal with a failing cast: 22P02');
canary('M6');
$r = ps_try($node, qq{SELECT provsecret.U&"authentic\\0061te"('$canary{M6}')});
ok(!$r->{ok}, 'U&-escaped authenticate() rejects a made-up token');
canary('M7');
ps_sql($node, qq{PREPARE leak_u(text, text) AS SELECT provsecret.U&"se\\0061l"(\$1, \$2);
  EXECUTE leak_u('managed:project/leak/uescape', '$canary{M7}')});
is(resolves_md5('managed:project/leak/uescape'), md5_hex($canary{M7}),
	'EXECUTE of a U&-escaped seal: sealed');
canary('M8');
($ok, $out, $err) = pgbench_once('SELECT provsecret.U&"se\\0061l"(:ref, :val);',
	{ ref => 'managed:project/leak/uescape', val => $canary{M8} });
ok($ok, 'bind parameters, U&-escaped seal: succeeds') or diag($err);
canary('M9');
($ok, $out, $err) = pgbench_once('SELECT provsecret.U&"se\\0061l"(:ref, :val);',
	{ ref => 'managed:project/bad name/x', val => $canary{M9} });
ok(!$ok, 'bind parameters, U&-escaped seal, malformed reference: fails');

# Nested: a PL/pgSQL function calling a U&-escaped seal (plan output of its
# statement, error context), and an inlined SQL function whose plan carries
# the literal (auto_explain log_verbose prints it in Output:).
canary('N1');
canary('N2');
canary('N3');
ps_sql($node, qq{SET pg_stat_statements.track_utility = off;
CREATE FUNCTION leak_fn_u() RETURNS text LANGUAGE plpgsql AS \$f\$
BEGIN
  RETURN provsecret.U&"se\\0061l"('managed:project/leak/nested', '$canary{N1}');
END \$f\$;
CREATE FUNCTION leak_fn_u_denied() RETURNS void LANGUAGE plpgsql AS \$f\$
BEGIN
  PERFORM provsecret.U&"se\\0061l"('managed:project/leak/nested2', '$canary{N2}');
END \$f\$;
GRANT EXECUTE ON FUNCTION leak_fn_u_denied() TO nogrant;
CREATE FUNCTION leak_wrap(v text) RETURNS text LANGUAGE sql
  AS \$f\$ SELECT provsecret.seal('managed:project/leak/wrapped', v) \$f\$;});
ps_sql($node, 'SELECT leak_fn_u()');
is(resolves_md5('managed:project/leak/nested'), md5_hex($canary{N1}),
	'nested U&-escaped seal: sealed');
$r = ps_try($node, 'SET ROLE nogrant; SELECT leak_fn_u_denied()');
is($r->{sqlstate}, '42501', 'nested U&-escaped seal by a role without grant: 42501');
$client_err{N2} = $r->{err};
ps_sql($node, "SELECT leak_wrap('$canary{N3}')");
is(resolves_md5('managed:project/leak/wrapped'), md5_hex($canary{N3}),
	'inlined SQL wrapper: sealed');

# Control: a seal() plan that fails inside a caught exception (its
# subtransaction aborts, its ExecutorEnd never runs) is forgotten: a later
# line of the same function keeps its context.
ps_sql($node, q{CREATE FUNCTION leak_catch() RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    PERFORM provsecret.seal('managed:project/bad name/x', 'x');
  EXCEPTION WHEN others THEN NULL;
  END;
  RAISE WARNING 'control-after-subtransaction';
END $f$;
SELECT leak_catch()});

# --- Resolved values quoted by PostgreSQL's own errors ----------------------
# A value resolve() returned, cast or parsed in the same statement, is quoted
# by PostgreSQL ("invalid input syntax for type integer: "<value>"").  The
# log and the client get the SQLSTATE and a withheld-text message.
my @casts = (
	[ 'Rint',  '%s::int',                     '22P02' ],
	[ 'Ruuid', '%s::uuid',                    '22P02' ],
	[ 'Rjsonb', '%s::jsonb',                  '22P02' ],
	[ 'Rjson', '%s::json',                    '22P02' ],
	[ 'Rinet', '%s::inet',                    '22P02' ],
	[ 'Rnum',  '%s::numeric',                 '22P02' ],
	[ 'Rop',   q{%s::jsonb -> 'a'},           '22P02' ],
	[ 'Rbool', '%s::boolean',                 '22P02' ],
	[ 'Rdate', '%s::date',                    '22007' ],
	[ 'Rts',   q{to_timestamp(%s, 'YYYY-MM-DD')}, '22007' ],
	[ 'Rjctx', q{('{"a": ' || %s || '}')::jsonb},  '22P02' ],
);
for my $c (@casts)
{
	my ($case, $fmt, $state) = @$c;
	canary($case);
	ps_sql($node, "SELECT provsecret.seal('managed:project/leak/$case', '$canary{$case}')");
	my $expr = sprintf($fmt, "provsecret.resolve('managed:project/leak/$case')");
	$r = ps_try($node, "SELECT $expr");
	is($r->{sqlstate}, $state, "resolve() then $fmt: fails with $state");
	like($r->{message}, qr/withheld/, "resolve() then $fmt: the client gets the withheld text");
	$client_err{$case} = $r->{err};
}
# In PL/pgSQL: the value in a variable, a RAISE and a nested cast.
canary('Rplpgsql');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/Rplpgsql', '$canary{Rplpgsql}')");
$r = ps_try($node, q{DO $d$ DECLARE v text := provsecret.resolve('managed:project/leak/Rplpgsql');
  BEGIN RAISE WARNING 'got %', v; PERFORM v::int; END $d$});
is($r->{sqlstate}, '22P02', 'PL/pgSQL: the nested cast of a resolved value fails');
$client_err{Rplpgsql} = $r->{err};
# The value as a regular expression (an unbalanced one fails: 2201B).
canary('Rregex');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/Rregex', '$canary{Rregex}(')");
$r = ps_try($node, q{SELECT 'x' ~ provsecret.resolve('managed:project/leak/Rregex')});
is($r->{sqlstate}, '2201B', 'a resolved value as an invalid regular expression: 2201B');
$client_err{Rregex} = $r->{err};
# Resolved and passed to seal() in one statement: both rules apply, and the
# client gets the withheld text.
canary('Rmix');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/Rmix', '$canary{Rmix}')");
$r = ps_try($node, q{SELECT provsecret.seal('managed:project/leak/mix',
  provsecret.resolve('managed:project/leak/Rmix')::int::text)});
is($r->{sqlstate}, '22P02', 'resolve()::int inside seal(): 22P02');
like($r->{message}, qr/withheld/, 'resolve()::int inside seal(): the client gets the withheld text');
$client_err{Rmix} = $r->{err};
# A unique violation quotes the key in its DETAIL.
canary('Runiq');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/Runiq', '$canary{Runiq}')");
$r = ps_try($node, q{CREATE TEMP TABLE leak_u (v text PRIMARY KEY);
  INSERT INTO leak_u SELECT provsecret.resolve('managed:project/leak/Runiq') FROM generate_series(1, 2)});
is($r->{sqlstate}, '23505', 'unique violation on a resolved value: 23505');
$client_err{Runiq} = $r->{err};
# Extended protocol: a bind parameter naming the reference.
canary('Rbind');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/Rbind', '$canary{Rbind}')");
($ok, $out, $err) = pgbench_once('SELECT provsecret.resolve(:ref)::int;',
	{ ref => 'managed:project/leak/Rbind' });
ok(!$ok, 'bind parameter: resolve()::int fails');
$client_err{Rbind} = $err;
# The next statement is not affected.
$r = ps_try($node, "SELECT provsecret.resolve('managed:project/leak/Rint') IS NOT NULL;
  SELECT 'not-a-number-$canary{U2}'::int");
like($r->{message}, qr/not-a-number/, 'control: the next statement\'s error is intact');

# --- Residual risk control: DO blocks -------------------------------------
# pg_stat_statements stores utility statements verbatim; no extension can
# change what it stores (DESIGN §7, docs/operations.md).  This proves the
# pg_stat_statements search below finds a canary that is there.
canary('D1');
ps_sql($node, "DO \$d\$ BEGIN
  PERFORM provsecret.seal('managed:project/leak/do', '$canary{D1}');
END \$d\$");

# A DO block is read as SQL too: its statement line is redacted; what
# pg_stat_statements stores of it is the residual risk, as for D1.
canary('D2');
ps_sql($node, qq{DO \$d\$ BEGIN
  PERFORM provsecret.U&"se\\0061l"('managed:project/leak/do', '$canary{D2}');
END \$d\$});

# --- Without log_statement ---------------------------------------------------
# log_min_duration_statement then logs the statement text with its duration,
# after the call, and bind parameters as its detail.
ps_sql($node, q{ALTER SYSTEM SET log_statement = 'none'; SELECT pg_reload_conf();});
canary('Q1');
canary('Q2');
canary('Q3');
ps_sql($node, "SELECT provsecret.seal('managed:project/leak/duration', '$canary{Q1}')");
canary('Q4');
ps_sql($node, qq{SELECT provsecret.U&"se\\0061l"('managed:project/leak/duration', '$canary{Q4}')});
canary('Q5');
($ok, $out, $err) = pgbench_once('SELECT provsecret.U&"se\\0061l"(:ref, :val);',
	{ ref => 'managed:project/leak/duration', val => $canary{Q5} });
ok($ok, 'duration only: U&-escaped seal with bind parameters succeeds') or diag($err);
($ok, $out, $err) = pgbench_once('SELECT provsecret.seal(:ref, :val);',
	{ ref => 'managed:project/leak/duration', val => $canary{Q2} });
ok($ok, 'duration only: seal with bind parameters succeeds') or diag($err);
ps_sql($node, "PREPARE leak_q(text, text) AS SELECT provsecret.seal(\$1, \$2);
  EXECUTE leak_q('managed:project/leak/duration', '$canary{Q3}')");
is(resolves_md5('managed:project/leak/duration'), md5_hex($canary{Q3}),
	'duration only: the last seal resolves');
ps_sql($node, q{ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf();});

# --- pg_stat_activity -----------------------------------------------------
# A session left idle (in a transaction) after each kind of call; another
# session reads its last query.
canary('S1');
canary('S2');
canary('S3');
my $idle = $node->background_psql('postgres', on_error_stop => 0);
my $idle_pid = $idle->query_safe('SELECT pg_backend_pid()');
sub activity_of_idle
{
	return ps_sql($node, "SELECT query FROM pg_stat_activity WHERE pid = $idle_pid");
}
$idle->query_safe("BEGIN; SELECT provsecret.seal('managed:project/leak/activity', '$canary{S1}')");
my $seen = activity_of_idle();
ok(!holds($seen, $canary{S1}), 'pg_stat_activity: an idle-in-transaction session after seal()')
  or diag($seen);
like($seen, qr/redacted/, 'pg_stat_activity: the query is replaced, the session still listed');
$idle->query('ROLLBACK');
$idle->query("SELECT provsecret.seal('managed:project/leak/activity', '$canary{S2}'), '$canary{S2}x'::int");
$seen = activity_of_idle();
ok(!holds($seen, $canary{S2}), 'pg_stat_activity: after a seal() statement failing a cast')
  or diag($seen);
$idle->query("SELECT provsecret.seal('managed:project/leak/activity', '$canary{S3}' $canary{S3}x)");
$seen = activity_of_idle();
ok(!holds($seen, $canary{S3}), 'pg_stat_activity: after a syntax error in a seal() statement')
  or diag($seen);
canary('S5');
$idle->query(qq{SELECT provsecret.U&"se\\0061l"('managed:project/leak/activity', '$canary{S5}'), '$canary{S5}x'::int});
$seen = activity_of_idle();
ok(!holds($seen, $canary{S5}), 'pg_stat_activity: after a U&-escaped seal() statement failing a cast')
  or diag($seen);
$idle->quit;

# The calling session itself, later in the same query string: psql -c
# sends it as one simple Query message, which has one pg_stat_activity
# entry; the last statement's result is printed.
sub one_query_string
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', \$out, '2>', \$err) or die "psql: $err";
	return $out;
}
canary('S4');
$seen = one_query_string("SELECT provsecret.seal('managed:project/leak/activity', '$canary{S4}');
  SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()");
ok(!holds($seen, $canary{S4}), 'pg_stat_activity: the calling session, after the call')
  or diag($seen);
like($seen, qr/redacted/, 'pg_stat_activity: the calling session shows the redacted text');
$seen = one_query_string("SELECT '$canary{U1}';
  SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()");
ok(holds($seen, $canary{U1}), 'control: an unrelated query string is in pg_stat_activity');

# --- temp files -------------------------------------------------------------
# An open cursor over a sort larger than work_mem keeps its temp file.
sub temp_files_while
{
	my ($select) = @_;
	my $s = $node->background_psql('postgres');
	# DECLARE is a utility statement, stored verbatim by pg_stat_statements
	# like DO (the residual risk); temp files are what is tested here.
	$s->query_safe("SET pg_stat_statements.track_utility = off;
	  SET work_mem = '64kB'; BEGIN;
	  DECLARE c CURSOR FOR $select; FETCH 1 FROM c");
	my $data = '';
	my $count = 0;
	find({ no_chdir => 1, wanted => sub {
		return unless -f $_ && $File::Find::name =~ m{/pgsql_tmp/};
		$count++;
		open(my $fh, '<:raw', $_) or return;
		local $/;
		$data .= <$fh> // '';
	} }, $node->data_dir);
	$s->query_safe('COMMIT');
	$s->quit;
	return ($count, $data);
}
canary('T0');
canary('T1');
my ($n, $tmp) = temp_files_while("SELECT g, '$canary{T0}' AS v, repeat('x', 100)
  FROM generate_series(1, 20000) g ORDER BY g DESC");
ok($n > 0 && holds($tmp, $canary{T0}), 'control: a spilled sort puts its canary in a temp file');
($n, $tmp) = temp_files_while("WITH s AS MATERIALIZED
  (SELECT provsecret.seal('managed:project/leak/temp', '$canary{T1}') AS r)
  SELECT g, s.r, repeat('x', 100) FROM s, generate_series(1, 20000) g ORDER BY g DESC");
ok($n > 0, 'a sort spilling to a temp file after seal()');
ok(!holds($tmp, $canary{T1}), 'temp files: no canary');

# --- auto_explain loaded before provsecret --------------------------------
# Its ExecutorEnd hook then runs inside ours: the plan line is logged while
# provsecret still knows the plan calls seal().
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'auto_explain,provsecret,pg_stat_statements'");
ok(ps_restart($node, key => $key), 'restart with auto_explain loaded first');
canary('O1');
canary('O2');
ps_sql($node, 'SELECT leak_fn_u()');
ps_sql($node, "SELECT leak_wrap('$canary{O1}')");
ps_sql($node, qq{SELECT provsecret.U&"se\\0061l"('managed:project/leak/order', '$canary{O2}')});
is(resolves_md5('managed:project/leak/order'), md5_hex($canary{O2}),
	'auto_explain first: sealed');

# --- What the client receives for provsecret's own errors -----------------
for my $case (sort keys %client_err)
{
	ok(!holds($client_err{$case}, $canary{$case}),
		"client error text of case $case does not hold its canary")
	  or diag(substr($client_err{$case}, 0, 2000));
}

# --- Where values must not be ---------------------------------------------
my $logs = server_logs();
for my $kind (qw(log csv json))
{
	ok(holds($logs->{$kind} // '', $canary{U1}),
		"control: the unrelated canary is in the $kind log");
}
my $log = join("\n", map { $logs->{$_} } sort keys %$logs);
my $pgss = ps_sql($node, 'SELECT string_agg(query, E\'\n\') FROM pg_stat_statements');
my $activity = ps_sql($node, 'SELECT string_agg(query, E\'\n\') FROM pg_stat_activity');
my $audit = ps_sql($node, 'SELECT string_agg(a::text, E\'\n\') FROM provsecret.audit_log a')
  . ps_sql($node, 'SELECT string_agg(e::text, E\'\n\') FROM provsecret.audit_event e');
like($audit, qr/secret\.sealed/, 'control: the audit rows include the seals');

my %residual = (D1 => 'pg_stat_statements', D2 => 'pg_stat_statements');
my %residual_log = (N3 => 'log_statement', O1 => 'log_statement');
my %controls = (U1 => 'log', U2 => 'log');
for my $case (sort keys %canary)
{
	next if $case =~ /^T0$/;
	my $c = $canary{$case};
	if ($controls{$case}) {
		ok(holds($log, $c), "control: unrelated canary $case is in the server log");
		next;
	}
	if ($residual_log{$case})
	{
		# log_statement logs the text before anything is planned: a value
		# passed to a wrapper of seal() is seen only by its plan (redacted)
		my @lines = grep { holds($_, $c) } split /\n/, $log;
		ok(@lines && !grep({ !/statement: SELECT leak_wrap\(/ } @lines),
			"residual risk: wrapper canary $case only in log_statement lines, never in plan output")
		  or diag(where_held($log, $c));
	}
	else
	{
		ok(!holds($log, $c), "server log: no canary $case")
		  or diag(where_held($log, $c));
	}
	ok(!holds($audit, $c), "audit rows: no canary $case");
	ok(!holds($activity, $c), "pg_stat_activity: no canary $case");
	if ($residual{$case}) {
		ok(holds($pgss, $c), "residual risk: DO block canary $case is in pg_stat_statements");
	} else {
		ok(!holds($pgss, $c), "pg_stat_statements: no canary $case");
	}
}

# Other lines are left intact.
like($log, qr/statement: SELECT '\Q$canary{U1}\E' AS unrelated/,
	'an unrelated statement is logged verbatim');
like($log, qr/ERROR:.*"\Q$canary{U2}\E".*\n(?:.*\n)*?.*STATEMENT:\s+SELECT '\Q$canary{U2}\E'::int/,
	'an unrelated error is logged with its statement');
like($log, qr/redacted by provsecret/, 'the seal() statements are logged, redacted');
like($log, qr/WARNING:\s+control-after-subtransaction\n.*CONTEXT:\s+PL\/pgSQL function leak_catch\(\)/,
	'control: after a caught seal() error, the next line keeps its context');

$node->stop;
done_testing();
