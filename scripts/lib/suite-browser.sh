# shellcheck shell=bash
# scripts/lib/suite-browser.sh: the settings pages in a real browser
# (test/browser/, one program).  Debian's Chromium driven by playwright-core,
# against a cluster and a development OpenID provider (oidc-provider,
# scripts/dev-issuer/) that test/browser/run.sh starts and stops.  Skipped,
# saying so, only where Chromium is not installed (install-deps installs it
# where the archive has it).  Screenshots go to .build/test-output/browser/.
# Needs common.sh, stage.sh, report.sh.

ps_suite_browser()
{
	local dir="$PS_ROOT/test/browser"
	[ -f "$dir/package.json" ] || return 0
	ps_selected "$dir/browser.js" || return 0
	if [ ! -x /usr/bin/chromium ]; then
		echo "skip  browser: Chromium is not installed (apt-get install chromium; scripts/install-deps tries it)"
		return 0
	fi

	local out="$PS_BUILD/test-output/browser"
	rm -rf "$out"
	mkdir -p "$out"
	local d
	for d in "$dir" "$PS_ROOT/scripts/dev-issuer"; do
		local install=(npm install --no-audit --no-fund)
		[ -f "$d/package-lock.json" ] && install=(npm ci --no-audit --no-fund)
		if ! (cd "$d" && "${install[@]}" </dev/null >>"$out/npm.log" 2>&1); then
			ps_result "browser" fail "${install[*]} failed in $d"
			ps_show "$out/npm.log" 40
			return 0
		fi
	done

	local rc=0
	local PS_PGPORT="${PS_PGPORT:-$(ps_free_port 55560 55660)}"
	local PS_REST_PORT="${PS_REST_PORT:-$(ps_free_port 18860 18960)}"
	local PS_ISSUER_PORT="${PS_ISSUER_PORT:-$(ps_free_port 18960 19060)}"
	(cd "$dir" && export PS_ROOT PS_STAGE PS_STAGE_PGBIN PS_TEST_ROOT_KEY \
		PS_PGPORT PS_REST_PORT PS_ISSUER_PORT &&
		export PS_PGBIN="$PS_STAGE_PGBIN" PS_BROWSER_OUT="$out" &&
		timeout 600 bash "$dir/run.sh" </dev/null >"$out/browser.log" 2>&1) || rc=$?

	local pass fail
	pass="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out/browser.log" | tail -n 1)"
	fail="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out/browser.log" | tail -n 1)"
	if [ "$rc" -eq 0 ] && [ "${fail:-0}" -eq 0 ] && [ -n "$pass" ]; then
		ps_result "browser" ok "${pass} ok, 0 not ok (screenshots: .build/test-output/browser)"
	else
		ps_result "browser" fail "${pass:-0} ok, ${fail:-?} not ok, exit $rc"
		ps_show "$out/browser.log" 150
	fi
}
