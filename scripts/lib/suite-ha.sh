# shellcheck shell=bash
# scripts/lib/suite-ha.sh: high availability under Patroni and etcd.
#
#   ha   test/ha/run.sh: one etcd and three PostgreSQL nodes of the staged
#        build under Patroni, on loopback; failover (SIGKILL of the leader's
#        postmaster) and switchover under load, reveals on a replica with
#        and without a leader (docs/operations.md, High availability).
#        Installs Debian's patroni and etcd-server when missing (its own
#        step, so the other suites do not need them) and test/ha's npm
#        packages.  Prints the measured figures.  Skipped, with the reason,
#        when patroni or etcd cannot be installed.
# Needs common.sh, report.sh.

PS_HA_PACKAGES=(patroni etcd-server)

ps_ha_install()
{
	local missing=() p
	for p in "${PS_HA_PACKAGES[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300 install --no-install-recommends)
	echo "installing (for the ha suite): ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" >"$1" 2>&1 && return 0
	DEBIAN_FRONTEND=noninteractive apt-get -q update >>"$1" 2>&1 || true
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" >>"$1" 2>&1
}

ps_suite_ha()
{
	local dir="$PS_ROOT/test/ha"
	ps_selected "$dir/ha.mjs" || return 0
	local out="$PS_BUILD/test-output/ha" rc=0
	rm -rf "$out"
	mkdir -p "$out"
	if ! ps_ha_install "$out/apt.log"; then
		echo "skip  ha: cannot install ${PS_HA_PACKAGES[*]} (see $out/apt.log)"
		return 0
	fi
	if ! (cd "$dir" && npm ci --no-audit --no-fund </dev/null >"$out/npm.log" 2>&1); then
		ps_result "ha" fail "npm ci in test/ha failed"
		ps_show "$out/npm.log" 40
		return 0
	fi
	PS_STAGE_PGBIN="$PS_STAGE_PGBIN" PS_TEST_ROOT_KEY="$PS_TEST_ROOT_KEY" \
		timeout 1200 bash "$dir/run.sh" "$out" >"$out/ha.tap" 2>&1 || rc=$?
	ps_tap_counts "$out/ha.tap"
	local detail="$PS_TAP_OK ok, $PS_TAP_NOTOK not ok"
	if [ "$rc" -eq 0 ] && [ "$PS_TAP_NOTOK" -eq 0 ] && [ "$PS_TAP_PLAN" -gt 0 ] &&
		[ "$PS_TAP_PLAN" -eq $((PS_TAP_OK + PS_TAP_NOTOK)) ]; then
		ps_result "ha" ok "$detail"
	else
		[ "$PS_TAP_PLAN" -ge 0 ] || detail="$detail, no plan (exit $rc)"
		ps_result "ha" fail "$detail"
		grep -v '^ok ' "$out/ha.tap" | grep -v '^# figures\|^# events' | head -n 80 | sed 's/^/    /'
		echo "    (logs: $out)"
	fi
	# the figures, pass or fail
	sed -n 's/^# \(figures .*\|events checked.*\)$/    \1/p' "$out/ha.tap"
}
