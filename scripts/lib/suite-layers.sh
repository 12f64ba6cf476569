# shellcheck shell=bash
# scripts/lib/suite-layers.sh: the source tree keeps its layers
# (scripts/check-layers, order in docs/DESIGN.md).  Needs common.sh, report.sh.

ps_suite_layers()
{
	ps_selected "$PS_ROOT/scripts/check-layers" || return 0
	local out="$PS_BUILD/test-output/layers.log"
	mkdir -p "$(dirname "$out")"
	if perl "$PS_ROOT/scripts/check-layers" "$PS_ROOT" >"$out" 2>&1; then
		ps_result "layers" ok "$(tail -n 1 "$out")"
	else
		ps_result "layers" fail "$(tail -n 1 "$out")"
		grep -v '^known: ' "$out" | sed 's/^/    /' >&2
	fi
}
