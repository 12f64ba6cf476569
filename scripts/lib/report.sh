# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the files that source this one
# scripts/lib/report.sh: per-test result lines and the final tally.
#
# A "test" is one file or program (a pg_regress test, a Perl TAP file, a unit
# test program, the node suite).  Failing assertions inside it are counted
# and shown on its line.  Needs common.sh.

PS_PASSED=0
PS_FAILED=0

# ps_result NAME ok|fail DETAIL
ps_result()
{
	if [ "$2" = ok ]; then
		PS_PASSED=$((PS_PASSED + 1))
		printf 'ok    %-36s %s\n' "$1" "$3"
	else
		PS_FAILED=$((PS_FAILED + 1))
		printf 'FAIL  %-36s %s\n' "$1" "$3"
	fi
}

# ps_tap_counts FILE [LEAD]: sets PS_TAP_OK, PS_TAP_NOTOK, PS_TAP_PLAN from
# the TAP lines of FILE.  LEAD is a regex for what may precede a line: "" for
# top-level lines only (subtests are indented), " *" for psql output.
# "not ok ... # TODO" counts as ok, as TAP says.
ps_tap_counts()
{
	local counts
	counts="$(awk -v lead="^${2:-}" '
		$0 ~ lead "not ok [0-9]" { if ($0 ~ /# *TODO/) ok++; else bad++; next }
		$0 ~ lead "ok [0-9]" { ok++; next }
		$0 ~ lead "1\\.\\.[0-9]+" { sub(/^ *1\.\./, ""); plan = $0 + 0 }
		END { printf "%d %d %d\n", ok, bad, (plan == "" ? -1 : plan) }
	' "$1")"
	read -r PS_TAP_OK PS_TAP_NOTOK PS_TAP_PLAN <<<"$counts"
}

# ps_selected FILE: true when no filter is given or the file's base name
# contains one of the filters (PS_FILTERS).
ps_selected()
{
	local base f
	base="$(basename "$1")"
	base="${base%.*}"
	[ ${#PS_FILTERS[@]} -eq 0 ] && return 0
	for f in "${PS_FILTERS[@]}"; do
		case "$base" in *"$f"*) return 0 ;; esac
	done
	return 1
}

# Show at most N lines of a file, indented, with a note when cut.
ps_show()
{
	local file="$1" max="${2:-200}" n
	[ -f "$file" ] || return 0
	n="$(wc -l <"$file")"
	sed -n "1,${max}p" "$file" | sed 's/^/    /'
	if [ "$n" -gt "$max" ]; then
		printf '    ... (%d more lines in %s)\n' "$((n - max))" "$file"
	fi
}
