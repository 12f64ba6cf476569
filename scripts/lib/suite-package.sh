# shellcheck shell=bash
# scripts/lib/suite-package.sh: release packaging.
#
#   meta     (default) scripts/check-meta: META.json valid per the PGXN Meta
#            Spec 1.0.0, and its version, debian/changelog's upstream
#            version and provsecret.control's default_version agree.  Fast.
#   package  (only when named: `./scripts/test package`) scripts/test-package:
#            builds postgresql-15-provsecret with dpkg-buildpackage (and the
#            previous release from git history), runs lintian on it,
#            installs it into the system
#            PostgreSQL 15, tries CREATE EXTENSION, seal / resolve and
#            ALTER EXTENSION UPDATE on a throwaway cluster of the system
#            binaries, then removes the package.  A few minutes; it changes
#            the system's packages while it runs, so it is not in the default
#            run.  Skipped, with the reason, when the build tools cannot be
#            installed or the package is already installed.
# Needs common.sh, report.sh.

ps_suite_meta()
{
	ps_selected "$PS_ROOT/scripts/check-meta" || return 0
	local out="$PS_BUILD/test-output/meta.log"
	mkdir -p "$(dirname "$out")"
	if perl "$PS_ROOT/scripts/check-meta" "$PS_ROOT" >"$out" 2>&1; then
		ps_result "meta" ok "$(tail -n 1 "$out")"
	else
		ps_result "meta" fail "$(tail -n 1 "$out")"
		sed '$d; s/^/    /' "$out" >&2
	fi
}

ps_suite_package()
{
	ps_selected "$PS_ROOT/scripts/test-package" || return 0
	local out="$PS_BUILD/test-output/package" rc=0
	rm -rf "$out"
	mkdir -p "$out"
	"$PS_ROOT/scripts/test-package" "$out" >"$out/test-package.tap" 2>&1 || rc=$?
	local skip
	skip="$(sed -n 's/^1\.\.0 # SKIP //p' "$out/test-package.tap")"
	if [ -n "$skip" ]; then
		echo "skip  package: $skip"
		return 0
	fi
	ps_tap_counts "$out/test-package.tap"
	local detail="$PS_TAP_OK ok, $PS_TAP_NOTOK not ok"
	if [ "$rc" -eq 0 ] && [ "$PS_TAP_NOTOK" -eq 0 ] &&
		[ "$PS_TAP_PLAN" -eq $((PS_TAP_OK + PS_TAP_NOTOK)) ]; then
		ps_result "package" ok "$detail"
	else
		[ "$PS_TAP_PLAN" -ge 0 ] || detail="$detail, no plan (exit $rc)"
		ps_result "package" fail "$detail"
		grep -v '^ok ' "$out/test-package.tap" | head -n 60 | sed 's/^/    /'
		echo "    (logs: $out)"
	fi
}
